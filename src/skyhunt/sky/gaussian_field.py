"""Gaussian random fields on a part of the HEALPix sphere.

Harmonic coefficients are drawn for the full sky, then synthesised only on
the HEALPix rings that cross the footprint with ducc0's ring-based spherical
harmonic synthesis. The result is exactly what ``healpy.alm2map`` would give
on those pixels, at a cost proportional to the number of rings, so an
nside-8192 patch needs no full-sky map.
"""

from __future__ import annotations

import ducc0
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
    import healpy as hp

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


def draw_unit_alm(lmax: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-spectrum (C_ell = 1 for every ell) Gaussian harmonic coefficients, nested in ``lmax``.

    The normal deviates are drawn in ell-major order (for each ell: Re a_l0, then Re and Im
    of a_lm for m = 1..ell), so the coefficients with ell <= L are the same for every
    ``lmax`` >= L. Jobs that synthesise one band each to its own lmax can therefore share
    the field of a stream exactly (the correlated red noise of
    :func:`skyhunt.sky.components.red_noise_map`).

    Parameters
    ----------
    lmax : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of complex128
        a_lm in healpy's m-major order, lmax = mmax.
    """
    import healpy as hp

    z = rng.standard_normal((lmax + 1) ** 2)
    ell, m = hp.Alm.getlm(lmax)
    ell = ell.astype(np.int64)
    m = m.astype(np.int64)
    alm = np.empty(ell.size, dtype=np.complex128)
    base = ell * ell + 2 * m
    alm.real = z[np.maximum(base - 1, ell * ell)]
    alm.imag = z[base]
    alm[m == 0] = z[ell[m == 0] ** 2]
    alm[m > 0] *= np.sqrt(0.5)
    return alm
