"""The compiled bilinear kernel of :mod:`skyhunt.cutouts.extract` (numba).

It is a module of its own so that importing :mod:`skyhunt.cutouts.extract` (as every reader of
cutout geometry does) does not import numba, which costs about 0.4 s of CPU in each job; the
functions that run the kernel import this module when they are called.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def bilinear(maps, outs, phi_c, row, dphi, real, index, bad):
    """Bilinear cutouts written into ``outs``.

    ``maps`` (npix, nmaps) float32; ``outs`` a tuple of (ncut, nb, m) float32
    arrays taking maps [g * nb, (g + 1) * nb) each; ``phi_c`` (ncut,) centre
    longitudes, radians; ``row`` (ncut,) the template of each cutout;
    ``dphi`` (nrow * m,) the templates' longitude offsets from the centre,
    radians; ``real`` and ``index`` (2, 3, nrow * m) from
    :meth:`PatchInterpolator.ring_tables` of the templates' colatitudes.
    Cutouts needing pixels outside the footprint are flagged in ``bad``
    (ncut,) and their values are meaningless.
    """
    nmaps = maps.shape[1]
    nb = outs[0].shape[1]
    npp = outs[0].shape[2]
    for c in range(phi_c.size):
        # all maps of one cutout pixel at a time (contiguous in `maps`), transposed at the end
        vals = np.empty((npp, nmaps), dtype=np.float32)
        for p in range(npp):
            q = row[c] * npp + p
            phi = phi_c[c] + dphi[q]
            # the two pixels of the northern (0) and southern (1) ring around phi (HEALPix get_interpol)
            tmp = (phi - real[0, 0, q]) * real[0, 1, q]
            j = np.floor(tmp)
            f0 = tmp - j
            k0 = np.int64(j) - index[0, 0, q]  # position within the ring's run of footprint pixels
            tmp = (phi - real[1, 0, q]) * real[1, 1, q]
            j = np.floor(tmp)
            f1 = tmp - j
            k1 = np.int64(j) - index[1, 0, q]
            i0 = index[0, 1, q] + k0
            i1 = index[1, 1, q] + k1
            if k0 < 0 or k0 >= index[0, 2, q] - 1 or k1 < 0 or k1 >= index[1, 2, q] - 1:
                bad[c] = True
                i0 = i1 = 0
            wa0 = real[0, 2, q] * (1.0 - f0)
            wb0 = real[0, 2, q] * f0
            wa1 = real[1, 2, q] * (1.0 - f1)
            wb1 = real[1, 2, q] * f1
            for m in range(nmaps):  # float64 sums in a fixed order
                vals[p, m] = (
                    wa0 * maps[i0, m] + wb0 * maps[i0 + 1, m] + wa1 * maps[i1, m] + wb1 * maps[i1 + 1, m]
                )
        for g in range(len(outs)):
            out = outs[g]
            for b in range(nb):
                for p in range(npp):
                    out[c, b, p] = vals[p, g * nb + b]
