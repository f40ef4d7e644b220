"""Gaussian random fields on a part of the HEALPix sphere.

Harmonic coefficients are drawn for the full sky, then synthesised only on
the HEALPix rings that cross the footprint with ducc0's ring-based spherical
harmonic synthesis. The result is exactly what ``healpy.alm2map`` would give
on those pixels, at a cost proportional to the number of rings, so an
nside-8192 patch needs no full-sky map.
"""

from __future__ import annotations

import ducc0
import healpy as hp
import numpy as np


def draw_alm(cl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw Gaussian harmonic coefficients of a real field with spectrum ``cl``.

    Parameters
    ----------
    cl : ndarray, shape (lmax + 1,)
        Angular power spectrum C_ell (units squared of the field).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of complex128
        a_lm in healpy's m-major order, lmax = mmax = len(cl) - 1.
    """
    lmax = len(cl) - 1
    nalm = (lmax + 1) * (lmax + 2) // 2
    m_len = np.arange(lmax + 1, 0, -1)
    m_start = np.concatenate([[0], np.cumsum(m_len)[:-1]])
    # ell of each coefficient: index - start of its m block + m
    ell = np.arange(nalm, dtype=np.int64) - np.repeat(m_start - np.arange(lmax + 1), m_len)
    amp = np.sqrt(np.asarray(cl, dtype=float) / 2.0)[ell]
    del ell
    alm = np.empty(nalm, dtype=np.complex128)
    alm.real = rng.standard_normal(nalm)
    alm.imag = rng.standard_normal(nalm)
    alm *= amp
    # m = 0 coefficients are real with variance C_ell
    alm[: lmax + 1] = alm[: lmax + 1].real * np.sqrt(2.0)
    return alm


def synthesize_on_pixels(
    alm: np.ndarray, nside: int, pixels: np.ndarray, nthreads: int = 1, rings_per_chunk: int = 256
) -> np.ndarray:
    """Evaluate the field of ``alm`` at the given RING pixels only.

    Parameters
    ----------
    alm : ndarray of complex128
        Coefficients in healpy order with lmax = mmax.
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices.
    nthreads : int
        Threads for ducc0.
    rings_per_chunk : int
        Rings synthesised per ducc0 call; bounds the work buffer to
        ``rings_per_chunk * 4 * nside`` doubles.

    Returns
    -------
    ndarray of float64
        Field values at ``pixels``.
    """
    lmax = hp.Alm.getlmax(alm.size)
    pixels = np.asarray(pixels, dtype=np.int64)
    all_rings = np.arange(1, 4 * nside)
    startpix_all = hp.ringinfo(nside, all_rings)[0].astype(np.int64)
    ring_of_pixel = np.searchsorted(startpix_all, pixels, side="right")  # 1-based ring number
    rings = np.unique(ring_of_pixel)
    out = np.empty(pixels.size, dtype=np.float64)
    alm2 = alm.reshape(1, -1)
    for i0 in range(0, rings.size, rings_per_chunk):
        chunk = rings[i0 : i0 + rings_per_chunk]
        startpix, nphi, cos_theta, _, _ = hp.ringinfo(nside, chunk)
        startpix = startpix.astype(np.int64)
        phi0 = hp.pix2ang(nside, startpix)[1]
        ringstart = np.concatenate([[0], np.cumsum(nphi)[:-1]]).astype(np.uintp)
        buf = ducc0.sht.synthesis(
            alm=alm2,
            theta=np.arccos(cos_theta),
            lmax=lmax,
            nphi=nphi.astype(np.uintp),
            phi0=phi0,
            ringstart=ringstart,
            spin=0,
            nthreads=nthreads,
        )[0]
        sel = (ring_of_pixel >= chunk[0]) & (ring_of_pixel <= chunk[-1])
        r = ring_of_pixel[sel]
        local = np.searchsorted(chunk, r)
        out[sel] = buf[ringstart[local].astype(np.int64) + pixels[sel] - startpix[local]]
    return out
