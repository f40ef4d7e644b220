"""Positional matching on the sphere: pairs within a radius and a one-to-one cross-match.

Distances are great-circle separations in arcmin, from chords between unit vectors
(``scipy.spatial.cKDTree``), exact at every separation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from skyhunt.cutouts.grid import ARCMIN


def unit_vectors(ra, dec) -> np.ndarray:
    """Unit vectors (N, 3) of positions given in degrees."""
    import healpy as hp

    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    return np.atleast_2d(hp.ang2vec(ra, np.atleast_1d(np.asarray(dec, dtype=float)), lonlat=True)).reshape(
        ra.size, 3
    )


def pairs_within(ra1, dec1, ra2, dec2, radius_arcmin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i, j) of a position of list 1 and one of list 2 closer than ``radius_arcmin``.

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : ndarray
        Positions, degrees.
    radius_arcmin : float
        Largest separation (inclusive), arcmin.

    Returns
    -------
    i, j : ndarray of int64
        Row in list 1 and in list 2 of each pair, sorted by (i, j).
    separation : ndarray
        Great-circle separation of each pair, arcmin.
    """
    v1, v2 = unit_vectors(ra1, dec1), unit_vectors(ra2, dec2)
    empty = np.zeros(0, np.int64)
    if len(v1) == 0 or len(v2) == 0:
        return empty, empty, np.zeros(0)
    chord = 2.0 * np.sin(radius_arcmin * ARCMIN / 2.0) * (1 + 1e-12)
    found = cKDTree(v1).sparse_distance_matrix(cKDTree(v2), chord, output_type="ndarray")
    i, j = found["i"].astype(np.int64), found["j"].astype(np.int64)
    sep = 2.0 * np.arcsin(np.minimum(found["v"] / 2.0, 1.0)) / ARCMIN
    keep = sep <= radius_arcmin
    i, j, sep = i[keep], j[keep], sep[keep]
    order = np.lexsort((j, i))
    return i[order], j[order], sep[order]


def match_one_to_one(ra1, dec1, ra2, dec2, radius_arcmin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy one-to-one cross-match: the closest remaining pair first, each position used once.

    Pairs within ``radius_arcmin`` are taken in increasing separation; ties in separation go to
    the pair of smaller (ra1, dec1, ra2, dec2), so the result depends on the positions only, not
    on the order of either list.

    Returns
    -------
    i, j : ndarray of int64
        Matched rows of list 1 and of list 2, sorted by i.
    separation : ndarray
        Their separations, arcmin.
    """
    i, j, sep = pairs_within(ra1, dec1, ra2, dec2, radius_arcmin)
    ra1, dec1 = np.atleast_1d(np.asarray(ra1, float)), np.atleast_1d(np.asarray(dec1, float))
    ra2, dec2 = np.atleast_1d(np.asarray(ra2, float)), np.atleast_1d(np.asarray(dec2, float))
    order = np.lexsort((dec2[j], ra2[j], dec1[i], ra1[i], sep))
    used1, used2 = set(), set()
    keep = []
    for k in order:
        if i[k] not in used1 and j[k] not in used2:
            used1.add(i[k])
            used2.add(j[k])
            keep.append(k)
    keep = np.asarray(keep, dtype=np.int64)
    keep = keep[np.argsort(i[keep], kind="stable")]
    return i[keep], j[keep], sep[keep]
