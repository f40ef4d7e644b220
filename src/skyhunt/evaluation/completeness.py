"""Per-halo detections, binned completeness (recall) and the selection function (DeepSZ 3.5, Figs. 10-12).

Every method classifies cutouts; a halo counts as detected by a method when
the cutout that holds it (the Chebyshev-nearest grid centre, the rule that
labels the cutouts, :func:`skyhunt.cutouts.labels.holding_cutout`) is
predicted positive with that method's validation threshold. Only halos in the
central square of their holding cutout are counted: there the cutout truth is
defined, and each halo belongs to exactly one cutout. Halos of every mass and
redshift above ``m_vir_min`` are counted, so the curves show how the methods,
trained or tuned on M_vir >= 2e14 M_sun and z >= 0.25, select clusters around
those cuts. A low-mass halo sharing a cutout with a detected cluster (or with a
false positive) is counted as detected too: the recall of halos far below the
cut tends to the fraction of cutouts a method calls positive, not to zero.

Recall in a bin is k / n (k of n halos detected) with a Jeffreys interval
(Brown, Cai & DasGupta 2001), which keeps close to its nominal coverage for
the few halos per bin of the default run.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.special import betaincinv

from skyhunt import io
from skyhunt.cutouts.grid import CutoutGeometry, Grid
from skyhunt.cutouts.labels import central_holding_cutout
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.evaluation.ensembles import METHODS
from skyhunt.evaluation.pipeline import read_ensemble_scores
from skyhunt.sky.halos import qualifying_mask
from skyhunt.sky.readers import HALO_CUT_COLUMNS, read_halos

log = logging.getLogger("skyhunt.evaluation")

#: Columns of the per-halo detection table and their units.
HALO_DETECTION_UNITS = {
    "halo_id": "",
    "ra": "deg",
    "dec": "deg",
    "z": "",
    "m_vir": "M_sun",
    "theta500_arcmin": "arcmin",
    "cutout_id": "",
    "cutout_label": "",
    **{f"detected_{m}": "" for m in METHODS},
}

#: Halo columns the detection table carries over, in its column order.
HALO_COLUMNS = (*HALO_CUT_COLUMNS, "theta500_arcmin")
#: Index columns the detections need.
INDEX_COLUMNS = (*GRID_COLUMNS, "split", "label")


def halo_detections(
    halos: pd.DataFrame,
    index: pd.DataFrame,
    predictions: pd.DataFrame,
    geometry: CutoutGeometry,
    stride_arcmin: float,
    central_arcmin: float,
    m_vir_min: float,
    split: str = "test",
    methods: tuple[str, ...] = METHODS,
) -> pd.DataFrame:
    """Whether each method detects each halo of one split (DeepSZ 3.5).

    Parameters
    ----------
    halos : pandas.DataFrame
        Halo table (halo_id, ra, dec in degrees, z, m_vir in M_sun, theta500_arcmin).
    index : pandas.DataFrame
        Cutout index in grid order (cutout_id, ra, dec in degrees, grid_row, grid_col, split, label).
    predictions : pandas.DataFrame
        cutout_id and a boolean ``<method>_pos`` per method for (at least) every cutout of ``split``.
    geometry : CutoutGeometry
        Cutout size (arcmin) and pixels.
    stride_arcmin : float
        Grid stride, arcmin.
    central_arcmin : float
        Side of a cutout's central square, arcmin; halos outside the central
        square of their holding cutout (at the grid's outer edge) are left out.
    m_vir_min : float
        Lowest virial mass counted, M_sun.
    split : str
        Cutout split whose halos are counted.
    methods : tuple of str
        Methods to report.

    Returns
    -------
    pandas.DataFrame
        One row per counted halo, in halo-table order: the columns of
        :data:`HALO_DETECTION_UNITS` (``cutout_label``: truth of the holding
        cutout; ``detected_<method>``: the method predicts it positive).
    """
    grid = Grid.from_index(index, stride_arcmin)
    h = halos[halos["m_vir"].to_numpy() >= m_vir_min].reset_index(drop=True)
    cut = central_holding_cutout(grid, geometry, central_arcmin, h["ra"].to_numpy(), h["dec"].to_numpy())
    keep = cut >= 0
    keep[keep] = index["split"].to_numpy()[cut[keep]] == split
    h, cut = h[keep].reset_index(drop=True), cut[keep]
    out = h[list(HALO_COLUMNS)].copy()
    out["cutout_id"] = index["cutout_id"].to_numpy()[cut]
    out["cutout_label"] = index["label"].to_numpy()[cut].astype(bool)
    pred = predictions.set_index("cutout_id")
    absent = ~np.isin(out["cutout_id"].to_numpy(), pred.index.to_numpy())
    if absent.any():
        raise ValueError(
            f"no prediction for {np.unique(out['cutout_id'][absent]).size} {split} cutouts holding halos "
            f"(e.g. cutout_id {out['cutout_id'][absent].iloc[0]})"
        )
    for m in methods:
        out[f"detected_{m}"] = pred.loc[out["cutout_id"], f"{m}_pos"].to_numpy().astype(bool)
    return out


def check_qualifying_labelled(det: pd.DataFrame, m_vir_min: float, z_min: float) -> None:
    """Fail unless every qualifying halo (M_vir >= ``m_vir_min`` M_sun, z >= ``z_min``) sits in a positive
    cutout: the grid rebuilt from the index must label halos as the cutouts stage did."""
    bad = qualifying_mask(det, m_vir_min, z_min) & ~det["cutout_label"].to_numpy()
    if bad.any():
        raise ValueError(
            f"{bad.sum()} qualifying halos lie in cutouts labelled negative (e.g. halo_id "
            f"{det['halo_id'][bad].iloc[0]}): the halo table and the cutout index do not belong together"
        )


def jeffreys_interval(k, n, interval: float = 0.68) -> tuple[np.ndarray, np.ndarray]:
    """Central Jeffreys interval of a binomial proportion.

    The ``(1 - interval) / 2`` and ``(1 + interval) / 2`` quantiles of
    Beta(k + 1/2, n - k + 1/2), with the lower limit 0 at k = 0 and the upper
    limit 1 at k = n (Brown, Cai & DasGupta 2001, Stat. Sci. 16, 101).

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials (n >= 1).
    interval : float
        Central probability, e.g. 0.68.

    Returns
    -------
    lower, upper : ndarray
        Limits on the proportion, in [0, 1].
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    a, b = k + 0.5, n - k + 0.5
    # quantiles of Beta(a, b) (scipy.stats.beta.ppf's own function, without importing scipy.stats)
    lower = np.where(k > 0, betaincinv(a, b, (1.0 - interval) / 2.0), 0.0)
    upper = np.where(k < n, betaincinv(a, b, (1.0 + interval) / 2.0), 1.0)
    return lower, upper


def anchored_edges(lo: float, hi: float, width: float, anchor: float | None = None) -> np.ndarray:
    """Equal-width bin edges from ``lo`` to at least ``hi``, with ``anchor`` on an edge.

    With an anchor inside (lo, hi), the width is adjusted (to the nearest
    whole number of bins between ``lo`` and ``anchor``) so that both ``lo`` and
    ``anchor`` are edges: a selection cut then never splits a bin. Units are
    those of the arguments (pass log10 values for logarithmic bins).

    Parameters
    ----------
    lo, hi : float
        Range to cover; ``hi > lo``.
    width : float
        Wanted bin width.
    anchor : float, optional
        Value that must be an edge (e.g. the mass cut).

    Returns
    -------
    ndarray
        Increasing edges; the first is ``lo``, the last ``>= hi``.
    """
    if not hi > lo or not width > 0:
        raise ValueError(f"need hi > lo and width > 0, got lo={lo}, hi={hi}, width={width}")
    if anchor is not None and lo < anchor < hi:
        width = (anchor - lo) / max(1, round((anchor - lo) / width))
    n = max(1, int(np.ceil((hi - lo) / width - 1e-9)))
    return lo + width * np.arange(n + 1)


def binned_recall(values, detected, edges, interval: float = 0.68) -> pd.DataFrame:
    """Recall (completeness) of halos in bins of one property, with Jeffreys intervals.

    Parameters
    ----------
    values : array_like
        Property of each halo (e.g. log10 M_vir), in the units of ``edges``;
        values outside the edges are ignored.
    detected : array_like of bool
        Whether each halo is detected.
    edges : array_like
        Bin edges, increasing (the last bin includes its upper edge).
    interval : float
        Central probability of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per bin: lo, hi (edges), n (halos), k (detected), recall
        (k / n, NaN where n = 0), lower, upper (interval limits, NaN where n = 0).
    """
    values = np.asarray(values, dtype=float)
    detected = np.asarray(detected, dtype=bool)
    edges = np.asarray(edges, dtype=float)
    n, _ = np.histogram(values, edges)
    k, _ = np.histogram(values[detected], edges)
    some = n > 0
    lower, upper = jeffreys_interval(k, np.maximum(n, 1), interval)
    nan = np.full(n.size, np.nan)
    return pd.DataFrame(
        {
            "lo": edges[:-1],
            "hi": edges[1:],
            "n": n,
            "k": k,
            "recall": np.where(some, k / np.maximum(n, 1), nan),
            "lower": np.where(some, lower, nan),
            "upper": np.where(some, upper, nan),
        }
    )


def recall_curves(
    det: pd.DataFrame,
    values,
    edges,
    selections: dict,
    methods: tuple[str, ...],
    interval: float = 0.68,
) -> pd.DataFrame:
    """Binned recall of several methods for several halo selections (DeepSZ Figs. 10 and 11).

    Parameters
    ----------
    det : pandas.DataFrame
        Per-halo detections (:func:`halo_detections`).
    values : array_like
        The binned property of each halo of ``det``, in the units of ``edges``.
    edges : array_like
        Bin edges.
    selections : dict
        Selection name -> boolean mask over the halos of ``det``.
    methods : tuple of str
    interval : float
        Central probability of the intervals.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`binned_recall` plus ``selection`` and ``method``.
    """
    values = np.asarray(values, dtype=float)
    parts = []
    for name, mask in selections.items():
        mask = np.asarray(mask, dtype=bool)
        for m in methods:
            part = binned_recall(values[mask], det[f"detected_{m}"].to_numpy()[mask], edges, interval)
            parts.append(part.assign(selection=name, method=m))
    return pd.concat(parts, ignore_index=True)


def selection_grid(x, y, detected, x_edges, y_edges, min_per_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Detected fraction in 2-D bins of two halo properties (DeepSZ Fig. 12).

    Parameters
    ----------
    x, y : array_like
        Properties of each halo, in the units of the edges.
    detected : array_like of bool
    x_edges, y_edges : array_like
        Bin edges.
    min_per_bin : int
        Bins with fewer halos get NaN.

    Returns
    -------
    fraction : ndarray, shape (len(x_edges) - 1, len(y_edges) - 1)
        Detected fraction in [0, 1], NaN in sparse bins; indexed [x bin, y bin].
    n : ndarray of int, same shape
        Halos per bin.
    """
    detected = np.asarray(detected, dtype=bool)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n, _, _ = np.histogram2d(x, y, [x_edges, y_edges])
    k, _, _ = np.histogram2d(x[detected], y[detected], [x_edges, y_edges])
    fraction = np.where(n >= min_per_bin, k / np.maximum(n, 1), np.nan)
    return fraction, n.astype(np.int64)


def read_halo_detections(path) -> pd.DataFrame:
    """Read a per-halo detection table (:data:`HALO_DETECTION_UNITS`); fail naming the file if it lacks a
    column."""
    return io.read_checked_table(path, HALO_DETECTION_UNITS)


def run_halo_detections(
    *, cutouts: dict, m_vir_min: float, stage: str, halos, index, scores, detections
) -> None:
    """Write the test-split per-halo detection table (rule ``halo_detections``).

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` keys size_arcmin, npix, stride_arcmin, central_arcmin (arcmin) and positive.
    m_vir_min : float
        Lowest M_vir of the halos listed, M_sun (config ``evaluation.halos.m_vir_min``).
    stage : str
        Noise stage of the ensemble scores (recorded in the metadata).
    halos, index, scores : path-like
        Halo table, cutout index and ensemble scores (``<method>_pos`` per method).
    detections : path-like
        Output Parquet table (:data:`HALO_DETECTION_UNITS`).
    """
    positive = cutouts["positive"]
    try:
        det = halo_detections(
            read_halos(halos, HALO_COLUMNS),
            read_index(index, INDEX_COLUMNS),
            read_ensemble_scores(scores, ("cutout_id", *(f"{m}_pos" for m in METHODS))),
            CutoutGeometry.from_config(cutouts),
            cutouts["stride_arcmin"],
            cutouts["central_arcmin"],
            m_vir_min,
        )
        check_qualifying_labelled(det, positive["m_vir_min"], positive["z_min"])
    except ValueError as err:
        raise io.InputFileError(f"{halos}, {index}, {scores}: {err}") from err
    meta = {"stage": stage, "split": "test", "m_vir_min": m_vir_min, "positive": positive}
    io.write_table(
        detections, {c: det[c].to_numpy() for c in HALO_DETECTION_UNITS}, HALO_DETECTION_UNITS, meta
    )
    qual = qualifying_mask(det, positive["m_vir_min"], positive["z_min"])
    log.info(
        "%d test halos with M_vir >= %.3g M_sun (%d qualifying); recall of qualifying halos: %s",
        len(det),
        m_vir_min,
        qual.sum(),
        ", ".join(f"{m} {det.loc[qual, f'detected_{m}'].mean():.3f}" for m in METHODS),
    )
