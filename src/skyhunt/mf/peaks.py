"""Peak finding in the matched filter's signal-to-noise maps (DeepSZ section 2.1).

The paper groups connected pixels above a signal-to-noise threshold in each
of the 12 filtered maps, places each group at the SNR-weighted mean of its
pixel positions, and, for groups seen in several maps, keeps the one with the
highest SNR. Here the maps of all scales are labelled at once: pixels above
threshold connect to their 8 neighbours within a map and to the same pixel
in the maps of adjacent scales, so a cluster seen at several scales is one
group; the group reports the scale where its SNR peaks, with the position
and SNR measured in that map.

Bright clusters ring: the filtered map of a cluster much brighter than the
threshold shows side-lobes a few arcmin out that can rise above it.
:func:`suppress_sidelobes` drops a detection lying within a radius of a much
brighter one.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

#: Pixels connect to their 8 neighbours in a map and to the same pixel at adjacent scales.
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = True
_STRUCTURE[0, 1, 1] = _STRUCTURE[2, 1, 1] = True


def find_groups(snr: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Groups of connected pixels above ``threshold`` across all scales.

    Parameters
    ----------
    snr : ndarray, shape (n_scales, ny, nx)
        Signal-to-noise maps, scales in increasing order of size.
    threshold : float
        Minimum SNR of a group's pixels.

    Returns
    -------
    dict of ndarray
        One entry per group: ``iy``, ``ix`` (SNR-weighted mean pixel
        position at the best scale, fractional), ``snr`` (the maximum SNR at
        the best scale), ``scale`` (index of the scale with the highest SNR),
        ``npix`` (pixels above threshold at that scale).
    """
    above = snr >= threshold
    labels, n = ndimage.label(above, structure=_STRUCTURE)
    if n == 0:
        return {
            k: np.zeros(0, dtype=t)
            for k, t in (
                ("iy", float),
                ("ix", float),
                ("snr", float),
                ("scale", np.int64),
                ("npix", np.int64),
            )
        }
    s_idx, y_idx, x_idx = np.nonzero(above)
    lab = labels[s_idx, y_idx, x_idx] - 1
    val = snr[s_idx, y_idx, x_idx].astype(np.float64)
    ns = snr.shape[0]
    key = lab * ns + s_idx  # (group, scale) cells
    size = n * ns
    peak = np.full(size, -np.inf)
    np.maximum.at(peak, key, val)
    peak = peak.reshape(n, ns)
    best = np.argmax(peak, axis=1)  # first (smallest) scale on ties
    at_best = s_idx == best[lab]
    g = lab[at_best]
    w = val[at_best]
    wsum = np.bincount(g, weights=w, minlength=n)
    return {
        "iy": np.bincount(g, weights=w * y_idx[at_best], minlength=n) / wsum,
        "ix": np.bincount(g, weights=w * x_idx[at_best], minlength=n) / wsum,
        "snr": peak[np.arange(n), best],
        "scale": best.astype(np.int64),
        "npix": np.bincount(g, minlength=n).astype(np.int64),
    }


def suppress_sidelobes(
    x: np.ndarray, y: np.ndarray, snr: np.ndarray, radius: float, ratio: float
) -> np.ndarray:
    """Keep-mask dropping detections that sit in the side-lobes of a much brighter one.

    Detections are visited in decreasing SNR (ties by position, so the
    result does not depend on their order); one is dropped when a *kept*
    detection within ``radius`` has an SNR above ``snr / ratio``, i.e. when it
    is fainter than ``ratio`` times that neighbour.

    Parameters
    ----------
    x, y : ndarray
        Positions in a flat coordinate system, same unit as ``radius``.
    snr : ndarray
    radius : float
    ratio : float
        In (0, 1]; 0 disables the suppression.

    Returns
    -------
    ndarray of bool
    """
    n = snr.size
    keep = np.ones(n, dtype=bool)
    if n < 2 or ratio <= 0 or radius <= 0:
        return keep
    order = np.lexsort((y, x, -snr))
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_ball_point(np.column_stack([x, y]), radius)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    for i in order:
        for j in pairs[i]:
            if keep[j] and rank[j] < rank[i] and snr[i] < ratio * snr[j]:
                keep[i] = False
                break
    return keep
