"""Where the CNN dataset's cutouts lie: their grid on the footprint and RA-stripe split (DeepSZ 1.2).

The split is DeepSZ's three stripes, or one fold of K rotated stripes (:func:`stripes`).

The ``cutouts`` rule cuts the maps at these centres, and
:func:`skyhunt.config.validate_config` builds the same layout from the config
before any job runs, so that a footprint or stripe too narrow to hold a cutout
stops the run at once rather than in the CNN's training job. This module
imports no pandas or scipy, as it runs on every Snakemake invocation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyhunt.cutouts.grid import CutoutGeometry, Grid, standard_grid
from skyhunt.sky.footprint import Footprint

#: Split names, in the order of increasing RA stripes.
SPLITS = ("test", "validation", "train")


@dataclass(frozen=True)
class Layout:
    """The cutout grid of a config and the split of each cutout.

    Attributes
    ----------
    footprint : Footprint
        The map footprint (``sky.footprint``).
    geometry : CutoutGeometry
        Cutout size and sampling (``cutouts.size_arcmin``, ``cutouts.npix``).
    grid : Grid
        The cutout centres.
    split : ndarray of str
        ``"test"``, ``"validation"``, ``"train"`` or ``"guard"``, per centre.
    """

    footprint: Footprint
    geometry: CutoutGeometry
    grid: Grid
    split: np.ndarray


def assign_splits(
    ra: np.ndarray,
    ra_min: float,
    ra_max: float,
    test_max: float,
    validation_max: float,
    guard_deg: float = 0.0,
) -> np.ndarray:
    """Split cutouts into RA stripes (DeepSZ section 1.2: test < 0.13, validation < 0.2, train above).

    Parameters
    ----------
    ra : ndarray
        Cutout centre RAs, degrees.
    ra_min, ra_max : float
        RA range of the footprint, degrees; the fractions refer to it.
    test_max, validation_max : float
        Upper edges of the test and validation stripes as fractions of the range.
    guard_deg : float
        Cutouts whose centre lies within this RA distance of a stripe edge get
        split ``"guard"`` and belong to none of the sets.

    Returns
    -------
    ndarray of str
    """
    return assign_stripes(ra, ra_min, ra_max, (test_max, validation_max), SPLITS, guard_deg)


def assign_stripes(
    ra: np.ndarray,
    ra_min: float,
    ra_max: float,
    edges: tuple,
    names: tuple,
    guard_deg: float = 0.0,
) -> np.ndarray:
    """The split of each position from RA stripes with given edges and split names.

    Stripe ``j`` runs from ``edges[j - 1]`` to ``edges[j]`` (fractions of the RA range, the
    lower edge included); positions below the first edge are in stripe 0 and those above
    the last in the last stripe, also outside the range.

    Parameters
    ----------
    ra : ndarray
        Right ascensions, degrees.
    ra_min, ra_max : float
        RA range of the footprint, degrees; the edges are fractions of it.
    edges : sequence of float
        Inner stripe edges, increasing fractions of the range.
    names : sequence of str
        Split of each stripe (``len(edges) + 1`` names; a split may hold several stripes).
    guard_deg : float
        Positions within this RA distance (degrees) of an inner edge get split ``"guard"``.

    Returns
    -------
    ndarray of str
    """
    edges = ra_min + np.asarray(edges, dtype=float) * (ra_max - ra_min)
    split = np.asarray(names, dtype=object)[np.searchsorted(edges, ra, side="right")]
    if guard_deg > 0:
        near = np.min(np.abs(np.asarray(ra)[:, None] - edges[None, :]), axis=1) < guard_deg
        split = np.where(near, "guard", split)
    return split.astype(str)


def stripes(splits: dict) -> tuple[tuple, tuple]:
    """The inner RA-stripe edges (fractions of the RA range) and the split of each stripe.

    With ``folds`` = 1 the stripes are DeepSZ's: test below ``test_max``, validation below
    ``validation_max``, training above. With K = ``folds`` > 1 (K >= 3) the range is cut into K
    equal stripes; fold k tests stripe k, validates on stripe k + 1 (stripe 0 after the last)
    and trains on the other K - 2, so that over the K folds every stripe is test once and
    validation once. Fold 0 is then the layout of ``test_max`` = 1/K and ``validation_max`` =
    2/K (the config check requires those values), and fold k is it rotated by k stripes.

    Parameters
    ----------
    splits : dict
        Config ``cutouts.splits`` (test_max, validation_max, folds, fold; folds and fold
        default to the schema's 1 and 0 when absent).

    Returns
    -------
    edges : tuple of float
        Inner stripe edges, increasing fractions of the RA range.
    names : tuple of str
        Split of each of the ``len(edges) + 1`` stripes, in order of increasing RA.
    """
    folds, fold = splits.get("folds", 1), splits.get("fold", 0)
    if folds == 1:
        return (splits["test_max"], splits["validation_max"]), SPLITS
    names = ["train"] * folds
    names[fold], names[(fold + 1) % folds] = "test", "validation"
    return tuple(j / folds for j in range(1, folds)), tuple(names)


def cutout_layout(footprint: dict, nside: int, cutouts: dict) -> Layout:
    """The standard grid of cutout centres and their RA-stripe splits.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution of the maps (config ``sky.nside``; sets the interpolation margin).
    cutouts : dict
        Config ``cutouts`` (size_arcmin, npix, stride_arcmin, edge_margin_arcmin, splits; the
        splits' K-fold rotation is :func:`stripes`).

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        If the footprint is too small to hold one cutout (from
        :func:`skyhunt.cutouts.grid.make_grid`).
    """
    box = Footprint.from_config(footprint)
    grid = standard_grid(box, cutouts, nside)
    split = split_of(grid.ra, box, cutouts["splits"])
    return Layout(box, CutoutGeometry.from_config(cutouts), grid, split)


def split_of(ra: np.ndarray, footprint: Footprint, splits: dict) -> np.ndarray:
    """The RA-stripe split of any sky position, by the config's stripes (as for cutout centres).

    Parameters
    ----------
    ra : ndarray
        Right ascensions, degrees.
    footprint : Footprint
        The map footprint; the stripe fractions refer to its RA range.
    splits : dict
        Config ``cutouts.splits`` (test_max, validation_max, guard_arcmin, folds, fold; see
        :func:`stripes`).

    Returns
    -------
    ndarray of str
        ``"test"``, ``"validation"``, ``"train"`` or ``"guard"`` per position.
    """
    edges, names = stripes(splits)
    return assign_stripes(
        np.asarray(ra, dtype=float),
        footprint.ra_min,
        footprint.ra_max,
        edges,
        names,
        splits["guard_arcmin"] / 60.0,
    )
