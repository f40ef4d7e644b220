"""Heat-map peaks to catalogue entries (CenterNet's max-pool non-maximum suppression).

A peak is a pixel whose largest class probability is at least ``prob_min`` and is the
maximum of that class-maximum map within a square window of ``nms_arcmin`` (class-agnostic,
so one object gives one entry whatever its class mix). Its class is the argmax at the pixel,
its position the pixel plus the regressed sub-pixel offset (Zhou et al. 2019).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def find_peaks(heat: np.ndarray, offset: np.ndarray, prob_min: float, window_px: int) -> dict:
    """Peaks of one image's heat maps.

    Parameters
    ----------
    heat : ndarray, shape (n_classes, H, W)
        Per-class probabilities in [0, 1].
    offset : ndarray, shape (2, H, W)
        Predicted (dy, dx) sub-pixel offsets, pixels.
    prob_min : float
        Lowest class-maximum probability of a peak.
    window_px : int
        Side of the max-pool window, pixels (odd).

    Returns
    -------
    dict of ndarray
        ``y``, ``x`` (fractional pixel coordinates), ``cls`` (argmax class index), ``prob``
        (its probability) and ``p`` (n, n_classes), every class's probability at the peak pixel;
        in row-major pixel order.
    """
    top = heat.max(axis=0)
    pooled = ndimage.maximum_filter(top, size=window_px, mode="constant", cval=0.0)
    iy, ix = np.nonzero((top == pooled) & (top >= prob_min))
    p = heat[:, iy, ix].T
    cls = np.argmax(p, axis=1)
    return {
        "y": iy + offset[0, iy, ix].astype(np.float64),
        "x": ix + offset[1, iy, ix].astype(np.float64),
        "cls": cls,
        "prob": p[np.arange(len(cls)), cls],
        "p": p,
    }


def window_pixels(nms_arcmin: float, pixel_arcmin: float) -> int:
    """The odd max-pool window (pixels) closest to ``nms_arcmin`` (at least 3)."""
    n = int(round(nms_arcmin / pixel_arcmin))
    return max(3, n + 1 - n % 2)
