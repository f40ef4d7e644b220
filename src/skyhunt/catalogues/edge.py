"""Completeness against the distance of a cluster from the nearest grid-cutout centre.

The classifier sees a cluster only through the standard-grid cutout that holds it
(:func:`skyhunt.cutouts.labels.holding_cutout`, the rule that labels the cutouts), so its
completeness falls with the cluster's distance from that cutout's centre (DeepSZ 3.4.2, Fig. 9c;
:mod:`skyhunt.evaluation.edge`). A detector that runs on whole tiles has no such grid: its
completeness should not depend on that distance. Both are measured on the same qualifying halos
of the validation and test stripes: the classifier finds a halo when its holding cutout reaches
the CNN's validation threshold, the detector when a cluster entry at or above its threshold lies
within the match radius.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, Grid, tan_project
from skyhunt.cutouts.labels import holding_cutout
from skyhunt.evaluation.completeness import jeffreys_interval

#: Columns of the edge table and their units.
EDGE_UNITS = {
    "distance_lo_arcmin": "arcmin",
    "distance_hi_arcmin": "arcmin",
    "n_halos": "",
    **{
        f"{m}_{k}": u
        for m in ("detector", "classifier")
        for k, u in (
            ("found", ""),
            ("completeness", ""),
            ("lo", "Jeffreys interval"),
            ("hi", "Jeffreys interval"),
        )
    },
}


def centre_distance(grid: Grid, geometry: CutoutGeometry, ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """(holding cutout, Euclidean distance from its centre in its tangent plane, arcmin) per position.

    Positions outside every cutout get cutout -1 and distance NaN.
    """
    cut = holding_cutout(grid, geometry, ra, dec)
    ok = cut >= 0
    dist = np.full(cut.size, np.nan)
    xi, eta = tan_project(grid.ra[cut[ok]], grid.dec[cut[ok]], np.asarray(ra)[ok], np.asarray(dec)[ok])
    dist[ok] = np.hypot(xi, eta) / ARCMIN
    return cut, dist


def edge_table(
    distance, detector_found, classifier_found, bin_arcmin: float, interval: float
) -> pd.DataFrame:
    """Completeness of both methods in bins of the distance (from 0 in steps of ``bin_arcmin``).

    Parameters
    ----------
    distance : ndarray
        Distance of each halo from its holding cutout's centre, arcmin (finite).
    detector_found, classifier_found : ndarray of bool
        Whether each method finds the halo.
    bin_arcmin : float
        Bin width, arcmin.
    interval : float
        Central probability of the Jeffreys intervals.
    """
    distance = np.asarray(distance, float)
    n_bins = max(1, int(np.ceil(distance.max() / bin_arcmin))) if distance.size else 1
    edges = bin_arcmin * np.arange(n_bins + 1)
    b = np.clip(np.searchsorted(edges, distance, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(b, minlength=n_bins)
    out = {"distance_lo_arcmin": edges[:-1], "distance_hi_arcmin": edges[1:], "n_halos": n}
    for name, found in (("detector", detector_found), ("classifier", classifier_found)):
        k = np.bincount(b, weights=np.asarray(found, bool), minlength=n_bins).astype(np.int64)
        lo, hi = jeffreys_interval(k, np.maximum(n, 1), interval)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.update({f"{name}_found": k, f"{name}_completeness": np.where(n > 0, k / n, np.nan)})
        out.update({f"{name}_lo": np.where(n > 0, lo, np.nan), f"{name}_hi": np.where(n > 0, hi, np.nan)})
    table = pd.DataFrame(out)
    return table[table["n_halos"] > 0].reset_index(drop=True)


def read_edge_table(path) -> tuple[pd.DataFrame, dict]:
    """(table, metadata) of rule ``detector_edge``; fail naming the file on a missing column or key."""
    table = io.read_checked_table(path, EDGE_UNITS)
    meta = io.read_table_meta(path)
    missing = [k for k in ("detector_threshold", "detector_purity", "cnn_threshold") if k not in meta]
    if missing or table.empty:
        raise io.InputFileError(f"{path}: no rows or no metadata {missing}; rerun rule detector_edge")
    return table, meta
