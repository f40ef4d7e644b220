"""Peak finding in the matched filter's signal-to-noise maps (DeepSZ section 2.1).

The paper groups connected pixels above a signal-to-noise threshold in each
of the 12 filtered maps, places each group at the SNR-weighted mean of its
pixel positions, and, for groups seen in several maps, keeps the one with the
highest SNR (:func:`find_groups`).

Bright clusters ring: the filtered map of a cluster much brighter than the
threshold shows side-lobes a few arcmin out that can rise above it.
:func:`suppress_sidelobes` drops a detection lying within a radius of a much
brighter one.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

#: Pixels of one map connect to their 8 neighbours.
_STRUCTURE = np.ones((3, 3), dtype=bool)

_EMPTY = (("iy", float), ("ix", float), ("snr", float), ("scale", np.int64), ("npix", np.int64))


def find_groups(snr: np.ndarray, threshold: float, centroid_fraction: float = 0.0) -> dict[str, np.ndarray]:
    """Detections: groups of connected pixels above ``threshold``, merged across scales.

    In each map, pixels at or above the threshold that touch (8-connectivity)
    form a group, placed at the SNR-weighted mean of its pixel positions
    (DeepSZ section 2.1) at or above ``centroid_fraction`` times its peak SNR
    (0: all its pixels, as in the paper; a fraction such as 0.5 keeps the
    faint wings of a bright group, which can reach neighbouring clusters
    arcminutes away, from pulling the position). Groups of adjacent scales are the same detection
    when each holds the other's peak pixel; a chain of such links is one
    detection, reported by its group of highest SNR. Mutual holding keeps a
    faint cluster separate from a bright neighbour whose large-scale group
    swallows both (that group's peak is not in the faint cluster's group).

    Parameters
    ----------
    snr : ndarray, shape (n_scales, ny, nx)
        Signal-to-noise maps, scales in increasing order of size.
    threshold : float
        Minimum SNR of a group's pixels.
    centroid_fraction : float
        Pixels below this fraction of the group's peak SNR do not count in its position.

    Returns
    -------
    dict of ndarray
        One entry per detection: ``iy``, ``ix`` (SNR-weighted mean pixel
        position in the best map, fractional), ``snr`` (the peak SNR there),
        ``scale`` (index of the best map), ``npix`` (its group's pixels).
    """
    ns, ny, nx = snr.shape
    labels = np.zeros(snr.shape, dtype=np.int64)
    cols = {k: [] for k, _ in _EMPTY}
    peak_pix, offset = [], 0
    for s in range(ns):
        lab, n = ndimage.label(snr[s] >= threshold, structure=_STRUCTURE)
        if n == 0:
            continue
        labels[s] = np.where(lab > 0, lab + offset, 0)
        yy, xx = np.nonzero(lab)
        g = lab[yy, xx] - 1
        val = snr[s, yy, xx].astype(np.float64)
        peak = np.full(n, -np.inf)
        np.maximum.at(peak, g, val)
        wt = np.where(val >= centroid_fraction * peak[g], val, 0.0)
        wsum = np.bincount(g, weights=wt, minlength=n)
        cols["iy"].append(np.bincount(g, weights=wt * yy, minlength=n) / wsum)
        cols["ix"].append(np.bincount(g, weights=wt * xx, minlength=n) / wsum)
        cols["snr"].append(peak)
        cols["scale"].append(np.full(n, s, dtype=np.int64))
        cols["npix"].append(np.bincount(g, minlength=n).astype(np.int64))
        at_peak = val == peak[g]
        first = np.full(n, -1, dtype=np.int64)
        idx = np.flatnonzero(at_peak)[::-1]  # first pixel (in scan order) at each group's peak
        first[g[idx]] = idx
        peak_pix.append(yy[first] * nx + xx[first])
        offset += n
    if offset == 0:
        return {k: np.zeros(0, dtype=t) for k, t in _EMPTY}
    groups = {k: np.concatenate(v) for k, v in cols.items()}
    peak_pix = np.concatenate(peak_pix)
    flat = labels.reshape(ns, -1)
    # link groups of adjacent scales that hold each other's peak pixel (union-find on group ids)
    parent = np.arange(offset)
    for s in range(ns - 1):
        here = np.flatnonzero(groups["scale"] == s)
        up = flat[s + 1, peak_pix[here]] - 1  # group at s+1 holding each peak of scale s
        ok = up >= 0
        back = flat[s, peak_pix[up[ok]]] - 1  # group at s holding that group's peak
        mutual = back == here[ok]
        for a, b in zip(here[ok][mutual], up[ok][mutual], strict=True):
            ra, rb = _root(parent, a), _root(parent, b)
            parent[max(ra, rb)] = min(ra, rb)
    root = np.array([_root(parent, g) for g in range(offset)])
    # per linked chain, the group of highest SNR (ties: the smallest scale, listed first)
    order = np.lexsort((np.arange(offset), -groups["snr"], root))
    first = np.ones(offset, dtype=bool)
    first[1:] = root[order][1:] != root[order][:-1]
    best = order[first]
    return {k: v[best] for k, v in groups.items()}


def _root(parent: np.ndarray, g: int) -> int:
    while parent[g] != g:
        parent[g] = parent[parent[g]]
        g = parent[g]
    return int(g)


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
