"""Where the CNN dataset's cutouts lie: their grid on the footprint and RA-stripe split (DeepSZ 1.2).

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
    frac_edges = np.array([test_max, validation_max])
    edges = ra_min + frac_edges * (ra_max - ra_min)
    split = np.asarray(SPLITS, dtype=object)[np.searchsorted(edges, ra, side="right")]
    if guard_deg > 0:
        near = np.min(np.abs(np.asarray(ra)[:, None] - edges[None, :]), axis=1) < guard_deg
        split = np.where(near, "guard", split)
    return split.astype(str)


def cutout_layout(footprint: dict, nside: int, cutouts: dict) -> Layout:
    """The standard grid of cutout centres and their RA-stripe splits.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution of the maps (config ``sky.nside``; sets the interpolation margin).
    cutouts : dict
        Config ``cutouts`` (size_arcmin, npix, stride_arcmin, edge_margin_arcmin, splits).

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
        Config ``cutouts.splits`` (test_max, validation_max, guard_arcmin).

    Returns
    -------
    ndarray of str
        ``"test"``, ``"validation"``, ``"train"`` or ``"guard"`` per position.
    """
    return assign_splits(
        np.asarray(ra, dtype=float),
        footprint.ra_min,
        footprint.ra_max,
        splits["test_max"],
        splits["validation_max"],
        splits["guard_arcmin"] / 60.0,
    )
