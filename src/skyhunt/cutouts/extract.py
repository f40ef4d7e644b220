"""Fast extraction of many TAN cutouts from partial HEALPix maps.

The straightforward way calls ``healpy.get_interp_val`` once per cutout, band
and map. Here all maps are stacked into one (npix, nmaps) array, and a
compiled kernel (numba, run by threads on small chunks of cutouts) computes
the HEALPix bilinear weights of every cutout pixel by ring arithmetic, gathers
the four neighbouring pixels of all maps at once and writes the weighted sums
straight into the output (e.g. one array per noise stage). All
cutouts with the same centre declination (a grid row) share their pixels'
colatitudes in the TAN projection, so the rings bracketing each pixel and the
weights along the meridian are computed once per declination (a template);
per cutout only the longitude part remains. The weights are those of
``healpy.get_interp_weights`` (HEALPix ``get_interpol``) and the sums are
accumulated in float64, so the output agrees with the straightforward loop to
float32 precision. Every output value is one fixed expression of its four
taps, so the output does not depend on the number of threads. Cutouts may not
straddle RA = 0 (pixels on both sides of it are not adjacent in a footprint's
pixel list); such cutouts are reported as reaching outside the footprint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from skyhunt.cutouts.grid import CutoutGeometry, tan_deproject


class PatchInterpolator:
    """Bilinear (or nearest-pixel) interpolation on the pixels of a partial RING map.

    Parameters
    ----------
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices of the partial maps.
    """

    def __init__(self, nside: int, pixels: np.ndarray):
        import healpy as hp

        self.nside = nside
        self.pixels = np.asarray(pixels, dtype=np.int64)
        rings = np.arange(1, 4 * nside)
        startpix, nphi, cos_theta, _, _ = hp.ringinfo(nside, rings)
        self.startpix = startpix.astype(np.int64)
        self.nphi = nphi.astype(np.int64)
        self.theta = np.arccos(cos_theta)
        self.phi0 = hp.pix2ang(nside, self.startpix)[1]
        # where each ring's footprint pixels sit in `pixels`: first index, first j, count
        # `pixels` is sorted, so each ring's footprint pixels form one run
        run_start = np.flatnonzero(np.diff(self.pixels, prepend=-2) != 1)
        run_ring = np.searchsorted(self.startpix, self.pixels[run_start], side="right") - 1
        if np.any(np.diff(run_ring) == 0):
            raise ValueError("footprint pixels must form one contiguous run per ring (an RA box)")
        self.first = np.full(rings.size, -1, dtype=np.int64)
        self.count = np.zeros(rings.size, dtype=np.int64)
        self.lo = np.zeros(rings.size, dtype=np.int64)
        self.first[run_ring] = run_start
        self.count[run_ring] = np.diff(run_start, append=self.pixels.size)
        self.lo[run_ring] = self.pixels[run_start] - self.startpix[run_ring]

    def meridian(self, theta: np.ndarray):
        """Rings bracketing each colatitude and the weight of the southern one.

        Parameters
        ----------
        theta : ndarray
            Colatitudes, radians.

        Returns
        -------
        ring1, ring2 : ndarray of int
            0-based rings north and south of each point.
        w_theta : ndarray of float64
            Weight of ``ring2``; ``ring1`` gets ``1 - w_theta``.
        """
        above = np.searchsorted(self.theta, theta, side="right")  # 1-based ring north of the point
        if np.any((above == 0) | (above >= self.theta.size)):
            raise ValueError("cutout pixels beyond the polar rings are not supported")
        ring1 = above - 1
        ring2 = above
        w_theta = (theta - self.theta[ring1]) / (self.theta[ring2] - self.theta[ring1])
        return ring1, ring2, w_theta

    def ring_tables(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-point constants of the two rings bracketing each colatitude, for the bilinear kernel.

        Parameters
        ----------
        theta : ndarray, shape (m,)
            Colatitudes, radians.

        Returns
        -------
        real : ndarray of float64, shape (2, 3, m)
            For the northern [0] and southern [1] ring: longitude of its first
            pixel (radians), pixels per radian, and the ring's meridian weight.
        index : ndarray of int64, shape (2, 3, m)
            For each ring: the first pixel index (within the ring) present in
            the footprint, its position in ``pixels``, and the ring's number of
            footprint pixels.
        """
        ring1, ring2, wt = self.meridian(theta)
        rings = np.stack([ring1, ring2])
        real = np.stack(
            [self.phi0[rings], self.nphi[rings] / (2.0 * np.pi), np.stack([1.0 - wt, wt])], axis=1
        )
        index = np.stack([self.lo[rings], self.first[rings], self.count[rings]], axis=1)
        return real, index

    def nearest(self, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Positions in ``pixels`` of the pixels containing (theta, phi) (radians)."""
        import healpy as hp

        pix = hp.ang2pix(self.nside, theta, phi)
        idx = np.searchsorted(self.pixels, pix)
        if np.any(self.pixels[np.minimum(idx, self.pixels.size - 1)] != pix):
            raise ValueError(
                "cutout pixels fall outside the map footprint; keep cutouts further from its edge"
            )
        return idx


#: Cutouts per task handed to a thread (about a millisecond of work).
CHUNK = 32


def _as_outputs(out, ncut: int, nmaps: int, npp: int) -> tuple[np.ndarray, ...]:
    """Check the output arrays and view them as (ncut, nb, npp) float32 arrays (no copy)."""
    outs = (out,) if isinstance(out, np.ndarray) else tuple(out)
    nb = nmaps // len(outs)
    views = []
    for o in outs:
        o = np.asarray(o)
        fits = nb * len(outs) == nmaps and o.size == ncut * nb * npp
        if not fits or o.dtype != np.float32 or not o.flags.c_contiguous:
            raise ValueError(
                f"{len(outs)} output array(s) must split {nmaps} maps evenly, each C-contiguous float32 of "
                f"{ncut} cutouts x {nmaps // len(outs)} maps x {npp} pixels; got {o.dtype} {o.shape}"
            )
        views.append(o.reshape(ncut, nb, npp))
    return tuple(views)


def _extract_block(interp, maps, ra, dec, geometry, method, outs, pool) -> None:
    """Cutouts centred on (ra, dec) (degrees) into ``outs`` (:func:`skyhunt.cutouts.kernel.bilinear`)."""
    decs, row = np.unique(dec, return_inverse=True)
    xi, eta = geometry.pixel_offsets()
    # one template per declination: pixel positions relative to a centre at RA 0
    dra, dec_t = tan_deproject(0.0, decs[:, None], xi.ravel()[None, :], eta.ravel()[None, :])
    dphi = np.radians((dra + 180.0) % 360.0 - 180.0)  # signed RA offsets from the centre
    theta = np.radians(90.0 - dec_t)
    if method == "bilinear":
        from skyhunt.cutouts.kernel import bilinear  # numba, imported only where a kernel runs

        real, index = interp.ring_tables(theta.ravel())
        phi_c, dphi = np.radians(ra), dphi.ravel()
        bad = np.zeros(ra.size, dtype=bool)

        def run(sel: slice) -> None:
            # the kernel releases the GIL; each chunk writes only its own cutouts
            bilinear(maps, tuple(o[sel] for o in outs), phi_c[sel], row[sel], dphi, real, index, bad[sel])

        if pool is None:
            run(slice(None))
        else:  # small chunks, taken by whichever thread is free
            list(pool.map(run, [slice(start, start + CHUNK) for start in range(0, ra.size, CHUNK)]))
        if bad.any():
            raise ValueError(
                "interpolation needs pixels outside the map footprint; keep cutouts further from its edge"
            )
    elif method == "nearest":
        vals = maps[interp.nearest(theta[row], np.radians(ra)[:, None] + dphi[row])]  # (ncut, m, nmaps)
        nb = outs[0].shape[1]
        for g, o in enumerate(outs):
            o[...] = vals[..., g * nb : (g + 1) * nb].transpose(0, 2, 1)
    else:
        raise ValueError(f"unknown interpolation {method!r}: expected 'bilinear' or 'nearest'")


def interpolate_at(
    interp: PatchInterpolator, maps: np.ndarray, ra: np.ndarray, dec: np.ndarray, method: str = "bilinear"
) -> np.ndarray:
    """Values of the stacked partial maps at arbitrary positions (e.g. the pixels of a large flat tile).

    Parameters
    ----------
    interp : PatchInterpolator
    maps : ndarray, shape (npix, nmaps), float32
        Partial maps stacked as columns, rows in ``interp.pixels`` order.
    ra, dec : ndarray
        Positions in degrees (any shape, flattened); all must lie far enough
        inside the footprint for the interpolation.
    method : {"bilinear", "nearest"}

    Returns
    -------
    ndarray, shape (ra.size, nmaps), float32
    """
    ra, dec = np.ravel(ra), np.ravel(dec)
    theta, phi = np.radians(90.0 - dec), np.radians(ra)
    if method == "nearest":
        return np.asarray(maps[interp.nearest(theta, phi)], dtype=np.float32)
    if method != "bilinear":
        raise ValueError(f"unknown interpolation {method!r}: expected 'bilinear' or 'nearest'")
    return PointSampler(interp, ra, dec)(maps)


class PointSampler:
    """Bilinear interpolation (:func:`interpolate_at`) of many maps at the same positions.

    The positions' ring tables (:meth:`PatchInterpolator.ring_tables`) are computed once, so
    sampling each further set of maps costs only the kernel (e.g. a flat tile of the matched
    filter, sampled from many model maps).

    Parameters
    ----------
    interp : PatchInterpolator
    ra, dec : ndarray
        Positions in degrees (any shape, flattened).
    """

    def __init__(self, interp: PatchInterpolator, ra: np.ndarray, dec: np.ndarray):
        ra, dec = np.ravel(ra), np.ravel(dec)
        self.phi = np.radians(ra)
        self.real, self.index = interp.ring_tables(np.radians(90.0 - dec))

    def __call__(self, maps: np.ndarray) -> np.ndarray:
        """Values of the stacked partial maps (npix, nmaps) float32 at the positions, (m, nmaps) float32."""
        from skyhunt.cutouts.kernel import bilinear  # numba, imported only where a kernel runs

        n = self.phi.size
        # each point is a one-pixel "cutout" with its own template (zero offset from itself)
        out = np.empty((n, maps.shape[1], 1), dtype=np.float32)
        bad = np.zeros(n, dtype=bool)
        bilinear(maps, (out,), self.phi, np.arange(n), np.zeros(n), self.real, self.index, bad)
        if bad.any():
            raise ValueError("interpolation needs pixels outside the map footprint")
        return out[:, :, 0]


def extract_cutouts(
    interp: PatchInterpolator,
    maps: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    geometry: CutoutGeometry,
    method: str = "bilinear",
    out: np.ndarray | Sequence[np.ndarray] | None = None,
    block: int = 256,
    threads: int = 1,
) -> np.ndarray | Sequence[np.ndarray]:
    """Cutouts at arbitrary centres, written block by block into one or several output arrays.

    Parameters
    ----------
    interp : PatchInterpolator
    maps : ndarray, shape (npix, nmaps), float32
        Partial maps stacked as columns, rows in ``interp.pixels`` order.
    ra, dec : ndarray
        Centres in degrees. Centres sharing a declination (as along a grid
        row) share the projection template.
    geometry : CutoutGeometry
    method : {"bilinear", "nearest"}
        HEALPix bilinear interpolation (as ``healpy.get_interp_val``) or the
        value of the pixel containing each cutout pixel centre.
    out : ndarray or sequence of ndarray, optional
        C-contiguous float32 array(s) to write into: one of shape
        (len(ra), nmaps, npix, npix), or several of shape
        (len(ra), nmaps / len(out), npix, npix) taking consecutive groups of
        maps (e.g. one array per noise stage; memmaps work too).
    block : int
        Cutouts handled at a time; bounds the working memory (a few hundred
        kB per distinct centre declination in a block, plus about
        4 kB x (nmaps + 10) per cutout for nearest).
    threads : int
        Threads running the bilinear kernel. The output does not depend on it.

    Returns
    -------
    ndarray, shape (len(ra), nmaps, npix, npix), float32, in the order of ``ra``
        Or ``out`` if given.

    Raises
    ------
    ValueError
        If a cutout needs pixels outside the map footprint, for an unknown
        ``method``, or for output arrays of the wrong shape or type.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    n = geometry.npix
    if out is None:
        out = np.empty((ra.size, maps.shape[1], n, n), dtype=np.float32)
    outs = _as_outputs(out, ra.size, maps.shape[1], n * n)
    with ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext() as pool:
        for start in range(0, ra.size, block):
            sel = slice(start, start + block)
            blocks = tuple(o[sel] for o in outs)
            _extract_block(interp, maps, ra[sel], dec[sel], geometry, method, blocks, pool)
    return out
