"""CenterNet training targets: per-class heat maps of object centres and sub-pixel offsets.

Zhou, Wang & Krähenbühl (2019), "Objects as Points" (arXiv:1904.07850): each object is a
Gaussian of class-dependent width centred on the pixel nearest its position, the heat map of
a class being the element-wise maximum over its objects; the peak pixel is exactly 1 (the
focal loss's positives). The offset of the true position from that pixel's centre
(in pixels, each in [-0.5, 0.5)) is regressed at the peak pixels only.

Pixel convention as for cutouts (:mod:`skyhunt.cutouts.grid`): ``a[iy, ix]``, a position
(y, x) in fractional pixel coordinates with pixel centres at integers.
"""

from __future__ import annotations

import numpy as np


def dihedral_coords(y: np.ndarray, x: np.ndarray, code: int, npix: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional pixel coordinates after the flip/rotation ``code`` of :func:`skyhunt.cnn.data.dihedral`.

    ``code % 4`` quarter turns of ``np.rot90`` (counter-clockwise as displayed), then a left-right
    flip if ``code >= 4``, on an ``npix`` x ``npix`` image, so that a heat map drawn at the new
    coordinates equals the transformed heat map.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    m = npix - 1
    for _ in range(int(code) % 4):
        y, x = m - x, y
    if code >= 4:
        x = m - x
    return y, x


def render_targets(
    y: np.ndarray, x: np.ndarray, cls: np.ndarray, sigma_px: np.ndarray, npix: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heat maps, offsets and the peak mask of objects on an ``npix`` x ``npix`` patch.

    Parameters
    ----------
    y, x : ndarray
        Fractional pixel coordinates of the objects (may lie outside the patch: their Gaussians'
        tails are drawn, their peaks are not).
    cls : ndarray of int
        Class index of each object.
    sigma_px : ndarray of float, shape (n_classes,)
        Gaussian width of each class, pixels.
    npix, n_classes : int

    Returns
    -------
    heat : ndarray, shape (n_classes, npix, npix), float32
        exp(-r^2 / 2 sigma^2) about each object's nearest pixel, maximum over objects; 1 there.
    offset : ndarray, shape (2, npix, npix), float32
        (dy, dx) of the true position from the peak pixel, at the peak pixels (0 elsewhere).
    peak : ndarray, shape (npix, npix), bool
        Pixels holding an object's peak.
    """
    heat = np.zeros((n_classes, npix, npix), dtype=np.float32)
    offset = np.zeros((2, npix, npix), dtype=np.float32)
    peak = np.zeros((npix, npix), dtype=bool)
    grid = np.arange(npix, dtype=np.float64)
    for yy, xx, c in zip(np.asarray(y, float), np.asarray(x, float), np.asarray(cls), strict=True):
        iy, ix = int(np.floor(yy + 0.5)), int(np.floor(xx + 0.5))
        s = float(sigma_px[c])
        reach = int(np.ceil(3.0 * s))
        if iy + reach < 0 or ix + reach < 0 or iy - reach >= npix or ix - reach >= npix:
            continue
        gy = np.exp(-0.5 * ((grid - iy) / s) ** 2)
        gx = np.exp(-0.5 * ((grid - ix) / s) ** 2)
        np.maximum(heat[c], np.outer(gy, gx).astype(np.float32), out=heat[c])
        if 0 <= iy < npix and 0 <= ix < npix:
            heat[c, iy, ix] = 1.0
            offset[:, iy, ix] = (yy - iy, xx - ix)
            peak[iy, ix] = True
    return heat, offset, peak
