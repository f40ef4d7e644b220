"""Cutout labels and the training-set adjacency cut (DeepSZ section 1.2).

A cutout is positive when a qualifying halo (M_vir and z above the
thresholds) lies in its central ``central`` x ``central`` arcmin square,
measured in the cutout's own tangent plane. On the standard grid (stride
equal to the central size) each qualifying halo is given to exactly one
cutout: the one whose centre is nearest in the Chebyshev (max-norm) sense.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, Grid, tan_project
from skyhunt.sky.halos import qualifying_mask

#: Slack of "in the central square", arcmin: a position at Chebyshev distance up to half its side
#: plus this from a cutout's centre is inside (rounding at the square's edge).
CENTRAL_TOLERANCE_ARCMIN = 1e-9


def in_central_square(cheb: np.ndarray, central_arcmin: float) -> np.ndarray:
    """Whether positions at Chebyshev distances ``cheb`` (arcmin, in a cutout's tangent plane) lie
    in its central ``central_arcmin`` square (:data:`CENTRAL_TOLERANCE_ARCMIN` included)."""
    return cheb <= central_arcmin / 2.0 + CENTRAL_TOLERANCE_ARCMIN


def _tree(grid: Grid) -> cKDTree:
    import healpy as hp

    return cKDTree(hp.ang2vec(grid.ra, grid.dec, lonlat=True))


def _pairs(grid: Grid, tree: cKDTree, ra: np.ndarray, dec: np.ndarray, radius_arcmin: float):
    """(object, cutout) index pairs closer than ``radius_arcmin`` on the sky, with TAN offsets (arcmin)."""
    import healpy as hp

    vec = np.atleast_2d(hp.ang2vec(ra, dec, lonlat=True))
    chord = 2.0 * np.sin(radius_arcmin * ARCMIN / 2.0)
    hits = tree.query_ball_point(vec, chord)
    obj = np.repeat(np.arange(len(hits)), [len(h) for h in hits]).astype(np.int64)
    cut = (
        np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]) if len(hits) else np.zeros(0, np.int64)
    )
    xi, eta = tan_project(grid.ra[cut], grid.dec[cut], ra[obj], dec[obj])
    return obj, cut, xi / ARCMIN, eta / ARCMIN


def pairs_within(grid: Grid, ra: np.ndarray, dec: np.ndarray, half_arcmin: float):
    """(position, cutout) pairs with the position in the square of half-side ``half_arcmin`` around
    the cutout's centre, measured in the cutout's tangent plane.

    Parameters
    ----------
    grid : Grid
    ra, dec : ndarray
        Positions in degrees.
    half_arcmin : float
        Half-side of the square, arcmin (the cutout's half-size for "in the cutout", 3' for the
        central 6' x 6' of DeepSZ, a quarter of the size for the middle half).

    Returns
    -------
    obj, cut : ndarray of int64
        Position and grid index of each pair.
    dx, dy : ndarray
        Offset of the position east and north of the cutout centre, arcmin.
    cheb : ndarray
        Chebyshev distance ``max(|dx|, |dy|)``, arcmin.
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    obj, cut, dx, dy = _pairs(grid, _tree(grid), ra, dec, half_arcmin * np.sqrt(2.0) + 1e-6)
    cheb = np.maximum(np.abs(dx), np.abs(dy))
    inside = cheb <= half_arcmin
    return obj[inside], cut[inside], dx[inside], dy[inside], cheb[inside]


def first_per_group(group: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Index of the lowest-``rank`` element of each value of ``group`` (ties: the earliest element).

    Parameters
    ----------
    group : ndarray of int
        Group of each element (e.g. the halo or cutout of each pair).
    rank : ndarray
        Sort key, same length; the element of least rank wins its group.

    Returns
    -------
    ndarray of int
        One element index per distinct group value, in increasing group order.
    """
    order = np.lexsort((rank, group))
    first = np.ones(order.size, bool)
    first[1:] = group[order][1:] != group[order][:-1]
    return order[first]


def _holding_pairs(grid: Grid, geometry: CutoutGeometry, ra, dec):
    """Each position's holding cutout (Chebyshev-nearest centre in its tangent plane).

    Returns ``out`` (int64, -1 per position, to be filled), and for the positions inside some
    cutout: their indices ``obj``, their holding cutout's grid index ``cut`` and its Chebyshev
    distance ``cheb`` (arcmin).
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    out = np.full(ra.size, -1, dtype=np.int64)
    if ra.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return out, empty, empty, np.zeros(0)
    obj, cut, _, _, cheb = pairs_within(grid, ra, dec, geometry.size_arcmin / 2.0)
    best = first_per_group(obj, cheb)
    return out, obj[best], cut[best], cheb[best]


def holding_cutout(grid: Grid, geometry: CutoutGeometry, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """The cutout holding each position: the one whose centre is Chebyshev-nearest in its tangent plane.

    This is the rule :func:`label_cutouts` gives qualifying halos on the
    standard grid. Positions outside every cutout get -1.

    Parameters
    ----------
    grid : Grid
    geometry : CutoutGeometry
    ra, dec : ndarray
        Positions in degrees.

    Returns
    -------
    ndarray of int64
        Grid index per position, or -1.
    """
    out, obj, cut, _ = _holding_pairs(grid, geometry, ra, dec)
    out[obj] = cut
    return out


def central_holding_cutout(
    grid: Grid, geometry: CutoutGeometry, central_arcmin: float, ra: np.ndarray, dec: np.ndarray
) -> np.ndarray:
    """The cutout holding each position (:func:`holding_cutout`), if the position lies in its
    central ``central_arcmin`` square (there the cutout truth is defined, DeepSZ 3.5), else -1.

    Parameters
    ----------
    grid : Grid
    geometry : CutoutGeometry
    central_arcmin : float
        Side of a cutout's central square, arcmin.
    ra, dec : ndarray
        Positions in degrees.

    Returns
    -------
    ndarray of int64
        Grid index per position, or -1 (outside every cutout, or outside the central square of
        its holding cutout, at the grid's outer edge).
    """
    out, obj, cut, cheb = _holding_pairs(grid, geometry, ra, dec)
    central = in_central_square(cheb, central_arcmin)
    out[obj[central]] = cut[central]
    return out


def label_cutouts(
    grid: Grid,
    geometry: CutoutGeometry,
    halos: pd.DataFrame,
    central_arcmin: float,
    m_vir_min: float,
    z_min: float,
    unique: bool = True,
) -> pd.DataFrame:
    """Label each cutout and record its qualifying halos.

    Parameters
    ----------
    grid : Grid
    geometry : CutoutGeometry
    halos : pandas.DataFrame
        Halo table (halo_id, ra, dec, z, m_vir in M_sun).
    central_arcmin : float
        Side of the central square, arcmin (6' in DeepSZ).
    m_vir_min : float
        Minimum virial mass of a qualifying halo, M_sun.
    z_min : float
        Minimum redshift of a qualifying halo.
    unique : bool
        Give each qualifying halo only to its nearest cutout (the standard
        grid); with ``False`` every cutout whose central square holds it is
        positive (denser grids).

    Returns
    -------
    pandas.DataFrame
        One row per cutout: ``label`` (0/1), ``n_qualifying`` (qualifying
        halos in the central square), ``halo_id`` (the most massive of them,
        -1 if none), ``halo_m_vir``, ``halo_z``, ``halo_dx_arcmin`` and
        ``halo_dy_arcmin`` (its offset east and north of the centre), and
        ``n_qualifying_in_cutout`` (qualifying halos anywhere in the cutout).
    """
    q = halos[qualifying_mask(halos, m_vir_min, z_min)].reset_index(drop=True)
    n = len(grid)
    out = pd.DataFrame(
        {
            "label": np.zeros(n, np.int8),
            "n_qualifying": np.zeros(n, np.int32),
            "halo_id": np.full(n, -1, np.int64),
            "halo_m_vir": np.full(n, np.nan),
            "halo_z": np.full(n, np.nan),
            "halo_dx_arcmin": np.full(n, np.nan),
            "halo_dy_arcmin": np.full(n, np.nan),
            "n_qualifying_in_cutout": np.zeros(n, np.int32),
        }
    )
    if q.empty:
        return out
    obj, cut, dx, dy, cheb = pairs_within(
        grid, q["ra"].to_numpy(), q["dec"].to_numpy(), geometry.size_arcmin / 2.0
    )
    np.add.at(out["n_qualifying_in_cutout"].to_numpy(), cut, 1)
    central = in_central_square(cheb, central_arcmin)
    if unique:
        # each halo -> its Chebyshev-nearest cutout only (rounding at the seams cannot double count)
        keep = np.zeros(obj.size, bool)
        keep[first_per_group(obj, cheb)] = True
        central &= keep
    obj, cut, dx, dy = obj[central], cut[central], dx[central], dy[central]
    counts = np.bincount(cut, minlength=n)
    out["n_qualifying"] = counts.astype(np.int32)
    out["label"] = (counts > 0).astype(np.int8)
    # record the most massive qualifying halo of each positive cutout
    sel = first_per_group(cut, -q["m_vir"].to_numpy()[obj])
    c = cut[sel]
    out.loc[c, "halo_id"] = q["halo_id"].to_numpy()[obj[sel]]
    out.loc[c, "halo_m_vir"] = q["m_vir"].to_numpy()[obj[sel]]
    out.loc[c, "halo_z"] = q["z"].to_numpy()[obj[sel]]
    out.loc[c, "halo_dx_arcmin"] = dx[sel]
    out.loc[c, "halo_dy_arcmin"] = dy[sel]
    return out


def training_drops(grid: Grid, labels: pd.DataFrame, split: np.ndarray) -> np.ndarray:
    """Training negatives to leave out: neighbours of positives and cutouts holding an off-centre halo.

    DeepSZ removes, in the training set only, the negative cutouts adjacent to
    a positive one (the 8 grid neighbours, i.e. every cutout within 1.5
    strides in both tangent-plane directions) so as not to train on the
    periphery of a cluster; negatives whose footprint holds a qualifying halo
    outside their central square go too.

    Returns
    -------
    ndarray of bool
        True for dropped rows (only training negatives can be dropped).
    """
    negative_train = (split == "train") & (labels["label"].to_numpy() == 0)
    drop = negative_train & (labels["n_qualifying_in_cutout"].to_numpy() > 0)
    pos = np.flatnonzero(labels["label"].to_numpy() == 1)
    if pos.size:
        reach = 1.5 * grid.stride_arcmin
        obj, cut, dx, dy = _pairs(grid, _tree(grid), grid.ra[pos], grid.dec[pos], reach * np.sqrt(2.0) + 1e-6)
        # offsets of each neighbour's centre seen from the positive's tangent plane
        near = (np.abs(dx) < reach) & (np.abs(dy) < reach) & (cut != pos[obj])
        drop[cut[near]] |= negative_train[cut[near]]
    return drop


def count_others(grid: Grid, target_id: np.ndarray, q: pd.DataFrame, half_arcmin: float) -> np.ndarray:
    """Qualifying halos other than each cutout's ``target_id`` within Chebyshev ``half_arcmin`` of its centre.

    Parameters
    ----------
    grid : Grid
        Cutout centres.
    target_id : ndarray of int
        The halo each cutout was cut for.
    q : pandas.DataFrame
        Qualifying halos (halo_id, ra, dec in degrees).
    half_arcmin : float
        Half-side of the square searched, arcmin.

    Returns
    -------
    ndarray of int32
        Count per cutout.
    """
    if q.empty:
        return np.zeros(len(grid), np.int32)
    obj, cut, *_ = pairs_within(grid, q["ra"].to_numpy(), q["dec"].to_numpy(), half_arcmin)
    other = q["halo_id"].to_numpy()[obj] != np.asarray(target_id)[cut]
    return np.bincount(cut[other], minlength=len(grid)).astype(np.int32)
