"""Scan-synchronous filtering of maps along constant-elevation scans (HEALPix rings).

Ground-based surveys scan at constant elevation, i.e. along right ascension, and map-making
removes long-wavelength modes along the scan (atmosphere, ground pickup): "an anisotropic filter
that preferentially removes long wavelength modes in the R.A. direction" (DeepSZ section 1.1;
SPT: Schaffer et al. 2011, Bleem et al. 2015). A HEALPix ring is a line of constant Dec, so the
footprint's pixels on one ring are one scan. For an RA/Dec box they form one contiguous segment
per ring, which :func:`scan_segments` checks. Each segment is filtered by

1. subtraction of its least-squares polynomial of order ``poly_order`` in RA (Legendre basis on
   the segment, orthonormalised with a QR decomposition), then
2. a high-pass in ``ell_x``, the wavenumber along RA: the segment's DFT is multiplied by
   ``H(|ell_x|) = sin^2(pi/2 clip((|ell_x| - highpass_ell_x) / taper_ell, 0, 1))`` (zero at and
   below ``highpass_ell_x``, one from ``highpass_ell_x + taper_ell``; a step for ``taper_ell``
   = 0), with ``ell_x = k_phi / sin(theta)`` for the ring's pixel spacing in phi. The DFT
   treats the segment as periodic, so combine it with ``poly_order >= 1``, which removes the
   step between the segment's ends.

Rings of equal segment length are filtered together (one QR per length, one batched FFT), so
the cost is linear in the number of pixels (times log of the segment length for the FFT). The
filter is linear, and it is the same operator for every map of the footprint.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre

#: Rings filtered at once (bounds the work space to a few times their pixels).
RINGS_PER_BLOCK = 256


def scan_filter_on(cfg: dict) -> bool:
    """Whether the ``sky.scan_filter`` config filters at all (polynomial order >= 0 or a high-pass)."""
    return cfg["poly_order"] >= 0 or cfg["highpass_ell_x"] > 0


def highpass_response(ell_x: np.ndarray, highpass_ell_x: float, taper_ell: float) -> np.ndarray:
    """The high-pass ``H(|ell_x|)``: 0 up to ``highpass_ell_x``, a sin^2 rise to 1 over ``taper_ell``.

    Parameters
    ----------
    ell_x : ndarray
        Wavenumber along RA, rad^-1 (multipole).
    highpass_ell_x, taper_ell : float
        Cut and taper width, rad^-1.

    Returns
    -------
    ndarray
        Dimensionless response in [0, 1].
    """
    ell = np.abs(np.asarray(ell_x, dtype=float))
    if taper_ell <= 0:
        return (ell > highpass_ell_x).astype(float)
    return np.sin(0.5 * np.pi * np.clip((ell - highpass_ell_x) / taper_ell, 0.0, 1.0)) ** 2


def scan_segments(nside: int, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scans of a partial map: one contiguous run of ``pixels`` per HEALPix ring.

    Parameters
    ----------
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices (the footprint's).

    Returns
    -------
    start, length : ndarray of int
        Index in ``pixels`` of each segment's first pixel, and its number of pixels.
    ring : ndarray of int
        The segment's ring number (1-based).

    Raises
    ------
    ValueError
        If the pixels are not sorted or a ring holds more than one run (not an RA box).
    """
    import healpy as hp

    pixels = np.asarray(pixels, dtype=np.int64)
    if np.any(np.diff(pixels) <= 0):
        raise ValueError("scan filter: pixels must be sorted RING indices without repeats")
    startpix = hp.ringinfo(nside, np.arange(1, 4 * nside))[0].astype(np.int64)
    start = np.flatnonzero(np.diff(pixels, prepend=-2) != 1)
    ring = np.searchsorted(startpix, pixels[start], side="right")
    if np.any(np.diff(ring) == 0):
        raise ValueError(
            "scan filter: the map's pixels on a HEALPix ring must form one contiguous segment "
            "(an RA/Dec box footprint not crossing RA = 0)"
        )
    length = np.diff(np.append(start, pixels.size))
    return start, length, ring


def _polynomial_basis(n: int, order: int) -> np.ndarray:
    """Orthonormal columns spanning the polynomials of degree <= ``order`` on ``n`` equispaced points."""
    x = np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    q, _ = np.linalg.qr(legendre.legvander(x, order))
    return q[:, : min(n, order + 1)]


def filter_scans(nside: int, pixels: np.ndarray, values: np.ndarray, cfg: dict) -> np.ndarray:
    """Apply the scan-synchronous filter to maps on ``pixels``.

    Parameters
    ----------
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices; one contiguous segment per ring (:func:`scan_segments`).
    values : ndarray, shape (npix,) or (npix, nmaps)
        Map values (any unit; e.g. µK_CMB), rows in ``pixels`` order.
    cfg : dict
        Config ``sky.scan_filter``: ``poly_order`` (-1: none), ``highpass_ell_x`` (rad^-1,
        0: none), ``taper_ell`` (rad^-1).

    Returns
    -------
    ndarray of float64, the shape of ``values``
        The filtered maps.
    """
    import healpy as hp

    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != np.size(pixels):
        raise ValueError(f"scan filter: {values.shape[0]} values for {np.size(pixels)} pixels")
    if not np.all(np.isfinite(values)):
        raise ValueError("scan filter: the map holds non-finite values")
    flat = values.reshape(values.shape[0], -1)
    out = flat.copy()
    start, length, ring = scan_segments(nside, pixels)
    _, ringpix, cos_theta, _, _ = hp.ringinfo(nside, ring)
    # ell_x per unit DFT index of a segment: 2 pi / (n dphi sin theta), dphi = 2 pi / ringpix
    ell_unit = ringpix / np.sqrt(1.0 - cos_theta**2)
    order, cut, taper = cfg["poly_order"], cfg["highpass_ell_x"], cfg["taper_ell"]
    for n in np.unique(length):
        q = _polynomial_basis(int(n), order) if order >= 0 else None
        same = np.flatnonzero(length == n)
        for block in range(0, same.size, RINGS_PER_BLOCK):
            sel = same[block : block + RINGS_PER_BLOCK]
            out[start[sel, None] + np.arange(n)[None, :]] = _filter_block(
                out, start[sel], int(n), q, ell_unit[sel], cut, taper
            )
    return out.reshape(values.shape)


def _filter_block(maps, start, n, q, ell_unit, cut, taper) -> np.ndarray:
    """Filtered segments (rings, n, nmaps) of equal length ``n`` starting at rows ``start``.

    ``q`` is the orthonormal polynomial basis (or None), ``ell_unit`` each ring's ell_x
    (rad^-1) per DFT index times ``n``, ``cut`` and ``taper`` the high-pass (rad^-1).
    """
    import scipy.fft

    seg = maps[start[:, None] + np.arange(n)[None, :]]  # (rings, n, nmaps)
    if q is not None:
        seg -= np.einsum("ik,rkm->rim", q, np.einsum("ik,rim->rkm", q, seg))
    if cut > 0:
        ell_x = ell_unit[:, None] * np.arange(n // 2 + 1)[None, :] / n
        seg_k = scipy.fft.rfft(seg, axis=1)
        seg_k *= highpass_response(ell_x, cut, taper)[:, :, None]
        seg = scipy.fft.irfft(seg_k, n=n, axis=1)
    return seg
