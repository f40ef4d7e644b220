"""Gaussian instrument beam on a partial HEALPix map, as a sparse real-space operator.

A harmonic-space beam needs the full sky; a patch instead gets a sparse
matrix B with B[i, j] proportional to exp(-d_ij^2 / 2 sigma^2) for pixels j
within ``nsigma`` sigma of pixel i, rows normalised to one (so a constant
map stays constant). Pixels closer than ``nsigma`` sigma to the footprint
edge see only the part of the beam inside the footprint.
"""

from __future__ import annotations

import healpy as hp
import numpy as np
from scipy import sparse


def gaussian_beam_operator(
    nside: int, pixels: np.ndarray, fwhm_arcmin: float, nsigma: float = 4.0, chunk: int = 200_000
) -> sparse.csr_matrix:
    """Sparse smoothing operator for a Gaussian beam on the given pixels.

    Candidates are found ring by ring: for each ring within the beam radius
    of a pixel, the pixels of that ring nearest in longitude, so the cost is
    proportional to the number of pixels times the beam area.

    Parameters
    ----------
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices.
    fwhm_arcmin : float
        Beam full width at half maximum in arcmin (> 0).
    nsigma : float
        Kernel truncation radius in beam sigmas.
    chunk : int
        Pixels processed at once (bounds memory).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (len(pixels), len(pixels))
    """
    pixels = np.asarray(pixels, dtype=np.int64)
    sigma = np.radians(fwhm_arcmin / 60.0) / np.sqrt(8.0 * np.log(2.0))
    radius = nsigma * sigma
    rings = np.arange(1, 4 * nside)
    startpix, nphi, cos_theta, _, _ = hp.ringinfo(nside, rings)
    startpix = startpix.astype(np.int64)
    theta_ring = np.arccos(cos_theta)
    phi0 = hp.pix2ang(nside, startpix)[1]
    ring_of = np.searchsorted(startpix, pixels, side="right") - 1  # 0-based ring
    theta_p, phi_p = hp.pix2ang(nside, pixels)
    vec_p = np.column_stack(hp.pix2vec(nside, pixels))
    r_lo = np.searchsorted(theta_ring, theta_p.min() - radius)
    r_hi = np.searchsorted(theta_ring, theta_p.max() + radius)
    ring_step = np.min(np.diff(theta_ring[max(r_lo - 1, 0) : r_hi + 2]))
    n_off = int(np.ceil(radius / ring_step)) + 1
    rows, cols, vals = [], [], []
    for c0 in range(0, pixels.size, chunk):
        sl = slice(c0, c0 + chunk)
        idx = np.arange(c0, min(c0 + chunk, pixels.size))
        for d_ring in range(-n_off, n_off + 1):
            r = ring_of[sl] + d_ring
            ok = (r >= 0) & (r < rings.size)
            r = np.clip(r, 0, rings.size - 1)
            ok &= np.abs(theta_ring[r] - theta_p[sl]) <= radius
            if not ok.any():
                continue
            dphi = 2.0 * np.pi / nphi[r]
            sin_min = np.maximum(np.minimum(np.sin(theta_ring[r]), np.sin(theta_p[sl])), 1e-6)
            half = int(np.ceil(np.max((radius / sin_min / dphi)[ok]))) + 1
            j0 = np.rint((phi_p[sl] - phi0[r]) / dphi).astype(np.int64)
            j = (j0[:, None] + np.arange(-half, half + 1)) % nphi[r][:, None]
            cand = startpix[r][:, None] + j
            vec_c = np.stack(hp.pix2vec(nside, cand), axis=-1)
            dist = np.arccos(np.clip(np.einsum("ijk,ik->ij", vec_c, vec_p[sl]), -1.0, 1.0))
            loc = np.searchsorted(pixels, cand)
            found = (loc < pixels.size) & (pixels[np.minimum(loc, pixels.size - 1)] == cand)
            keep = found & (dist <= radius) & ok[:, None]
            ii, jj = np.nonzero(keep)
            rows.append(idx[ii])
            cols.append(loc[ii, jj])
            vals.append(np.exp(-0.5 * (dist[ii, jj] / sigma) ** 2))
    rows, cols, vals = (np.concatenate(a) for a in (rows, cols, vals))
    op = sparse.csr_matrix((vals, (rows, cols)), shape=(pixels.size, pixels.size))
    norm = np.asarray(op.sum(axis=1)).ravel()
    return sparse.diags(1.0 / norm) @ op
