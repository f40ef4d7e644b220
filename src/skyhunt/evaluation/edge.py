"""The CNN's edge effect (DeepSZ section 3.4.2, Fig. 9c) and the quarter-overlap remedy: statistics.

Two measurements on the evaluation stage's maps, scored by that stage's CNN in
:mod:`skyhunt.evaluation.edge_scores` (this module needs no torch):

1. Re-cut (DeepSZ Fig. 9c): every qualifying halo that makes a validation or test cutout positive
   is cut again with the halo at offsets 0, step, ..., max (arcmin) from the new cutout's centre,
   at random position angles. The calibrated probability against offset shows how the CNN's
   score falls as the cluster leaves the centre.
2. Remedy (DeepSZ section 3.4.2): cutouts overlapping by a quarter of their width (a 2' stride
   for 8' cutouts) put every cluster in the middle half (central 4' x 4') of at least four
   cutouts. The test stripe is cut and scored on such a dense grid. A qualifying halo counts as
   found on a grid when any cutout holding it in its central region (standard grid: central
   6' x 6', the label definition; dense grid: middle half) reaches the CNN's validation
   threshold. The cost in false detections is counted on candidates: detections closer than
   ``merge_arcmin`` (Chebyshev, tangent plane) to a higher-probability detection merge into it,
   and a candidate is true when a qualifying halo lies in the central 6' x 6' of its peak cutout.
   With ``merge_arcmin`` equal to the standard stride no two standard cutouts merge, so on the
   standard grid this is the usual count of false-positive cutouts.

Offsets are in arcmin, position angles in degrees east of north, positions in degrees.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cutouts.grid import Grid
from skyhunt.cutouts.labels import pairs_within
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.evaluation.pipeline import read_thresholds
from skyhunt.sky.halos import qualifying_mask
from skyhunt.sky.readers import HALO_CUT_COLUMNS, read_halos

log = logging.getLogger("skyhunt.evaluation")

#: Units of the re-cut score table.
RECUT_UNITS = {
    "halo_id": "",
    "split": "split of the halo's positive cutout",
    "offset_arcmin": "arcmin (requested distance from the centre)",
    "angle_deg": "deg (position angle of the halo, east of north)",
    "dx_arcmin": "arcmin (halo east of the centre)",
    "dy_arcmin": "arcmin (halo north of the centre)",
    "distance_arcmin": "arcmin (Euclidean)",
    "chebyshev_arcmin": "arcmin (max(|dx|, |dy|))",
    "ra": "deg (cutout centre)",
    "dec": "deg (cutout centre)",
    "other_central": "other qualifying halos in the central square",
    "other_in_cutout": "other qualifying halos in the cutout",
    "raw_score": "log-odds",
    "probability": "Platt-calibrated",
}

#: Units of the dense-grid score table.
DENSE_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "grid_row": "",
    "grid_col": "",
    "in_test_area": "centre in the central square of a standard test cutout",
    "raw_score": "log-odds",
    "probability": "Platt-calibrated",
}

#: Columns of the remedy table, with their Markdown headers.
REMEDY_COLUMNS = {
    "grid": "grid",
    "stride_arcmin": "stride (')",
    "cutouts": "cutouts scored",
    "halos": "test clusters",
    "halos_held_4plus": "held by >= 4 cutouts",
    "halos_found": "found",
    "completeness": "completeness",
    "detections": "detecting cutouts",
    "detections_unexplained": "of which no cluster in central 6'",
    "candidates": "candidates",
    "false_candidates": "false candidates",
    "false_per_deg2": "false per deg²",
}


def qualifying(halos: pd.DataFrame, m_vir_min: float, z_min: float) -> pd.DataFrame:
    """Halos that make a cutout positive (:func:`skyhunt.sky.halos.qualifying_mask`), by halo_id."""
    q = halos[qualifying_mask(halos, m_vir_min, z_min)]
    return q.sort_values("halo_id").reset_index(drop=True)


def offset_profile(recut: pd.DataFrame, exclude_others: bool = True) -> pd.DataFrame:
    """CNN probability against the halo's distance from the cutout centre (DeepSZ Fig. 9c).

    Each halo's curve is its mean probability over the position angles at each offset; the
    profile gives, per offset, the median, mean, 10th and 90th percentiles of these curves over
    halos (DeepSZ plots the mean and the 10th/90th percentiles over 11 groups of clusters).

    Parameters
    ----------
    recut : pandas.DataFrame
        halo_id, offset_arcmin, probability, other_central (from :func:`recut_table`).
    exclude_others : bool
        Leave out re-cut cutouts with another qualifying halo in their central square.

    Returns
    -------
    pandas.DataFrame
        offset_arcmin, n_halos, median, mean, p10, p90.
    """
    rows = recut[recut["other_central"] == 0] if exclude_others else recut
    curves = rows.groupby(["offset_arcmin", "halo_id"])["probability"].mean()
    by_offset = curves.groupby(level="offset_arcmin")
    return pd.DataFrame(
        {
            "n_halos": by_offset.size(),
            "median": by_offset.median(),
            "mean": by_offset.mean(),
            "p10": by_offset.quantile(0.1),
            "p90": by_offset.quantile(0.9),
        }
    ).reset_index()


def offset_map(recut: pd.DataFrame, half_arcmin: float, bin_arcmin: float, exclude_others: bool = True):
    """Mean probability of the re-cut cutouts binned by the halo's position (dx, dy) in them.

    Returns
    -------
    edges : ndarray
        Bin edges along both axes, arcmin, from ``-half_arcmin`` to ``half_arcmin``.
    mean : ndarray, shape (n, n)
        Mean probability per bin, indexed [dy bin, dx bin]; NaN where empty.
    """
    rows = recut[recut["other_central"] == 0] if exclude_others else recut
    n = int(np.ceil(2.0 * half_arcmin / bin_arcmin - 1e-9))
    edges = -half_arcmin + bin_arcmin * np.arange(n + 1)
    args = (rows["dy_arcmin"].to_numpy(), rows["dx_arcmin"].to_numpy())
    total, _, _ = np.histogram2d(*args, bins=[edges, edges], weights=rows["probability"].to_numpy())
    count, _, _ = np.histogram2d(*args, bins=[edges, edges])
    with np.errstate(invalid="ignore", divide="ignore"):
        return edges, np.where(count > 0, total / count, np.nan)


def holding_count_and_best(
    grid: Grid, probability: np.ndarray, ra: np.ndarray, dec: np.ndarray, half_arcmin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cutouts holding each position within Chebyshev ``half_arcmin`` of their centre, and their best score.

    Returns
    -------
    count : ndarray of int
        Number of such cutouts per position.
    best : ndarray
        Largest ``probability`` among them (-inf where none).
    """
    best = np.full(np.size(ra), -np.inf)
    if np.size(ra) == 0:
        return np.zeros(0, int), best
    obj, cut, *_ = pairs_within(grid, ra, dec, half_arcmin)
    np.maximum.at(best, obj, np.asarray(probability)[cut])
    return np.bincount(obj, minlength=np.size(ra)), best


def merge_detections(
    grid: Grid, probability: np.ndarray, threshold: float, merge_arcmin: float
) -> np.ndarray:
    """Candidates from detections (probability >= threshold) by greedy non-maximum suppression.

    In decreasing probability (ties: grid order), a detection not yet absorbed becomes a
    candidate and absorbs every detection closer than ``merge_arcmin`` to it (Chebyshev, in its
    tangent plane). Centres exactly ``merge_arcmin`` apart stay separate (to 1e-3 arcmin).

    Returns
    -------
    ndarray of int
        Grid indices of the candidates' peak cutouts, by decreasing probability.
    """
    probability = np.asarray(probability)
    det = np.flatnonzero(probability >= threshold)
    det = det[np.argsort(-probability[det], kind="stable")]
    if det.size == 0:
        return det
    sub = grid.subset(det)
    obj, cut, *_ = pairs_within(sub, sub.ra, sub.dec, merge_arcmin - 1e-3)
    order = np.argsort(obj, kind="stable")
    obj, cut = obj[order], cut[order]
    starts = np.searchsorted(obj, np.arange(det.size + 1))
    absorbed = np.zeros(det.size, bool)
    peaks = []
    for i in range(det.size):  # det is sorted by probability, so i runs from the highest
        if not absorbed[i]:
            peaks.append(i)
            absorbed[cut[starts[i] : starts[i + 1]]] = True
    return det[np.asarray(peaks, int)]


def remedy_row(
    grid: Grid,
    probability: np.ndarray,
    in_area: np.ndarray,
    threshold: float,
    targets: pd.DataFrame,
    q: pd.DataFrame,
    hold_half_arcmin: float,
    central_arcmin: float,
    merge_arcmin: float,
    area_deg2: float,
) -> dict:
    """Completeness of the test halos and the false-detection cost of one grid (see module notes).

    Parameters
    ----------
    grid : Grid
        Scored cutout centres (standard test cutouts, or the dense cover).
    probability : ndarray
        Calibrated CNN probability per centre.
    in_area : ndarray of bool
        Centres inside the test area (detections and candidates are counted there only).
    threshold : float
        CNN probability threshold chosen on validation.
    targets : pandas.DataFrame
        The test area's qualifying halos (ra, dec).
    q : pandas.DataFrame
        All qualifying halos (ra, dec), which explain detections.
    hold_half_arcmin : float
        A halo is held by cutouts within this Chebyshev distance (3' standard, 2' dense).
    central_arcmin : float
        Side of the central square that makes a detection true, arcmin.
    merge_arcmin : float
        Merging distance of :func:`merge_detections`, arcmin.
    area_deg2 : float
        Test area, deg².

    Returns
    -------
    dict
        cutouts, halos, halos_held_4plus (halos held by at least four cutouts), halos_found,
        completeness, detections, detections_unexplained, candidates, false_candidates,
        false_per_deg2.
    """
    probability = np.asarray(probability)
    count, best = holding_count_and_best(
        grid, probability, targets["ra"].to_numpy(), targets["dec"].to_numpy(), hold_half_arcmin
    )
    explained = np.zeros(len(grid), bool)
    if not q.empty:
        explained[pairs_within(grid, q["ra"].to_numpy(), q["dec"].to_numpy(), central_arcmin / 2.0)[1]] = True
    detected = (probability >= threshold) & in_area
    peaks = merge_detections(grid, probability, threshold, merge_arcmin)
    peaks = peaks[in_area[peaks]]
    false = int((~explained[peaks]).sum())
    found = int((best >= threshold).sum())
    return {
        "cutouts": len(grid),
        "halos": len(targets),
        "halos_held_4plus": int((count >= 4).sum()),
        "halos_found": found,
        "completeness": found / len(targets) if len(targets) else float("nan"),
        "detections": int(detected.sum()),
        "detections_unexplained": int((detected & ~explained).sum()),
        "candidates": int(peaks.size),
        "false_candidates": false,
        "false_per_deg2": false / area_deg2,
    }


def remedy_table(
    index: pd.DataFrame,
    probability: np.ndarray,
    dense: pd.DataFrame,
    q: pd.DataFrame,
    cutouts: dict,
    dense_stride_arcmin: float,
    threshold: float,
) -> pd.DataFrame:
    """Standard against dense grid on the test split at one CNN threshold (see module notes).

    Parameters
    ----------
    index : pandas.DataFrame
        The cutout index (the standard grid).
    probability : ndarray
        Calibrated CNN probability of every standard cutout, in index order.
    dense : pandas.DataFrame
        Dense-grid scores (columns of :data:`DENSE_UNITS`).
    q : pandas.DataFrame
        Qualifying halos (ra, dec).
    cutouts : dict
        Config section ``cutouts`` (size, stride and central square, arcmin).
    dense_stride_arcmin : float
    threshold : float
        CNN probability threshold chosen on validation.

    Returns
    -------
    pandas.DataFrame
        One row per grid (``standard``, ``dense``): grid, stride_arcmin, threshold, area_deg2 and
        the columns of :func:`remedy_row`. The test halos are the qualifying halos in the central
        square of a standard test cutout; detections from merging closer than the standard stride.
    """
    test = index["split"].to_numpy() == "test"
    standard = Grid.from_index(index, cutouts["stride_arcmin"]).subset(test)
    half = cutouts["central_arcmin"] / 2.0
    held, _ = holding_count_and_best(
        standard, probability[test], q["ra"].to_numpy(), q["dec"].to_numpy(), half
    )
    targets = q[held > 0]
    area = test.sum() * cutouts["stride_arcmin"] ** 2 / 3600.0  # central squares tile the stripe
    dense_grid = Grid.from_index(dense, dense_stride_arcmin)
    grids = {
        "standard": (standard, probability[test], np.ones(len(standard), bool), half),
        "dense": (
            dense_grid,
            dense["probability"].to_numpy(),
            dense["in_test_area"].to_numpy(bool),
            cutouts["size_arcmin"] / 4.0,  # the middle half
        ),
    }
    rows = []
    for name, (grid, prob, in_area, hold) in grids.items():
        head = {"grid": name, "stride_arcmin": grid.stride_arcmin, "threshold": threshold, "area_deg2": area}
        merge = cutouts["stride_arcmin"]
        rows.append(
            head | remedy_row(grid, prob, in_area, threshold, targets, q, hold, 2 * half, merge, area)
        )
    return pd.DataFrame(rows)


def remedy_markdown(remedy: pd.DataFrame, stage: str, merge_arcmin: float, central_arcmin: float) -> str:
    """The remedy table as Markdown, with the rules it was counted by (distances in arcmin)."""
    area, threshold = remedy["area_deg2"].iloc[0], remedy["threshold"].iloc[0]
    table = remedy[list(REMEDY_COLUMNS)].rename(columns=REMEDY_COLUMNS)
    return (
        f"# Edge effect: quarter-overlap remedy (DeepSZ 3.4.2), stage {stage}, test split\n\n"
        f"CNN probability threshold {threshold:.4f} (maximum validation F1); test area {area:.2f} deg².\n"
        f"A cluster is found when a cutout holding it in its central square (standard grid: central "
        f"{central_arcmin:g}'; dense grid: middle half) reaches the threshold. Detections closer than "
        f"{merge_arcmin:g}' (Chebyshev) to a higher one merge into a candidate; a candidate is false when "
        f"no qualifying cluster lies in the central {central_arcmin:g}' of its peak cutout.\n\n"
        + table.to_markdown(index=False, floatfmt=".3g")
        + "\n"
    )


def read_recut_scores(path) -> pd.DataFrame:
    """The re-cut score table (:data:`RECUT_UNITS`); fail naming the file if it lacks a column."""
    return io.read_checked_table(path, RECUT_UNITS)


def read_dense_scores(path) -> pd.DataFrame:
    """The dense-grid score table (:data:`DENSE_UNITS`); fail naming the file if it lacks a column."""
    return io.read_checked_table(path, DENSE_UNITS)


def read_cnn_threshold(thresholds_path, stage: str) -> float:
    """The CNN's validation threshold (probability) in ``thresholds.json``; fail unless it is ``stage``'s."""
    thresholds = read_thresholds(thresholds_path)
    if thresholds["stage"] != stage:
        raise io.InputFileError(
            f"{thresholds_path}: thresholds of stage {thresholds['stage']}, expected {stage}"
        )
    return float(thresholds["methods"]["cnn"]["threshold"])


def read_remedy_table(path) -> pd.DataFrame:
    """The remedy table (CSV) of :func:`run_edge_effect_table`; fail naming the file if it lacks a column."""
    return io.read_checked_csv(path, ("threshold", "area_deg2", *REMEDY_COLUMNS), "remedy table")


def run_edge_effect_table(
    *,
    cutouts: dict,
    dense_stride_arcmin: float,
    stage: str,
    dense,
    index,
    halos,
    scores,
    thresholds,
    csv,
    md,
) -> None:
    """Write the remedy table (standard against dense grid, test split) as CSV and Markdown.

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` keys size_arcmin, stride_arcmin, central_arcmin (arcmin) and positive.
    dense_stride_arcmin : float
        Stride of the dense grid, arcmin (config ``evaluation.edge_effect.dense_stride_arcmin``).
    stage : str
        The evaluation stage.
    dense : path-like
        Dense-grid scores of :func:`skyhunt.evaluation.edge_scores.run_edge_effect_scores`.
    index, halos, scores : path-like
        Cutout index, halo table and the stage's CNN scores (standard grid).
    thresholds : path-like
        ``results/ensembles/thresholds.json`` (the CNN's validation threshold).
    csv, md : path-like
        Outputs: one row per grid, columns of :func:`remedy_table`.
    """
    threshold = read_cnn_threshold(thresholds, stage)
    dense_scores = read_dense_scores(dense)
    cutout_index = read_index(index, (*GRID_COLUMNS, "split"))
    halo_table = read_halos(halos, HALO_CUT_COLUMNS)
    cnn_scores = io.read_checked_table(scores, ("cutout_id", "probability"))
    if not np.array_equal(cnn_scores["cutout_id"].to_numpy(), cutout_index["cutout_id"].to_numpy()):
        raise io.InputFileError(f"{scores}: its cutout_id column does not follow {index}")

    q = qualifying(halo_table, cutouts["positive"]["m_vir_min"], cutouts["positive"]["z_min"])
    remedy = remedy_table(
        cutout_index,
        cnn_scores["probability"].to_numpy(),
        dense_scores,
        q,
        cutouts,
        dense_stride_arcmin,
        threshold,
    )
    with io.atomic_output(csv) as tmp:
        remedy.to_csv(tmp, index=False, float_format="%.6g")
    text = remedy_markdown(remedy, stage, cutouts["stride_arcmin"], cutouts["central_arcmin"])
    with io.atomic_output(md) as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info("\n%s", text)
