"""The CNN's edge effect (DeepSZ section 3.4.2, Fig. 9c) and the quarter-overlap remedy.

Two measurements on the evaluation stage's maps, scored by that stage's CNN:

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

import functools
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cnn.module import predict_scores
from skyhunt.cnn.pipeline import load_model, read_platt
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts, interpolation_reach_arcmin
from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, Grid, make_grid, recut_centres, tan_project
from skyhunt.cutouts.labels import pairs_within
from skyhunt.sky.footprint import Footprint

log = logging.getLogger("skyhunt.evaluation")

#: A scorer maps cutouts (N, bands, npix, npix) in µK_CMB to N raw scores (log-odds).
Scorer = Callable[[np.ndarray], np.ndarray]

#: Second entry of the RNG seed, keeping the position angles apart from other uses of ``seed``.
RNG_STREAM = 3042

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


def qualifying(halos: pd.DataFrame, m_vir_min: float, z_min: float) -> pd.DataFrame:
    """Halos that make a cutout positive (M_vir >= ``m_vir_min`` M_sun, z >= ``z_min``), by halo_id."""
    q = halos[(halos["m_vir"] >= m_vir_min) & (halos["z"] >= z_min)]
    return q.sort_values("halo_id").reset_index(drop=True)


def positive_halos(index: pd.DataFrame, halos: pd.DataFrame, splits=("test", "validation")) -> pd.DataFrame:
    """The halo of each positive cutout of ``splits`` (``index.halo_id``), with its position and split.

    Returns
    -------
    pandas.DataFrame
        halo_id, ra, dec (deg), m_vir (M_sun), z, split; sorted by halo_id.
    """
    pos = index[(index["label"] == 1) & index["split"].isin(splits)][["halo_id", "split"]]
    out = pos.merge(halos[["halo_id", "ra", "dec", "m_vir", "z"]], on="halo_id", how="left")
    if out["ra"].isna().any():
        missing = out.loc[out["ra"].isna(), "halo_id"].tolist()
        raise ValueError(f"positive cutouts name halos missing from the halo table: {missing[:5]}")
    return out.sort_values("halo_id").reset_index(drop=True)


def offset_design(
    n_halos: int, max_offset_arcmin: float, step_arcmin: float, angles: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Offsets and random position angles of the re-cut cutouts (DeepSZ Fig. 9c).

    Parameters
    ----------
    n_halos : int
    max_offset_arcmin, step_arcmin : float
        Offsets 0, step, 2 step, ... up to ``max_offset_arcmin`` (arcmin).
    angles : int
        Position angles per halo and offset, uniform in [0, 360) deg.
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        ``halo`` (row of the halo list), ``offset_arcmin``, ``angle_deg``; halo-major order.
    """
    offsets = step_arcmin * np.arange(int(np.floor(max_offset_arcmin / step_arcmin + 1e-9)) + 1)
    halo, offset = np.meshgrid(np.arange(n_halos), offsets, indexing="ij")
    halo = np.repeat(halo.ravel(), angles)
    offset = np.repeat(offset.ravel(), angles)
    return pd.DataFrame(
        {"halo": halo, "offset_arcmin": offset, "angle_deg": rng.uniform(0.0, 360.0, halo.size)}
    )


def fits_inside(footprint: Footprint, geometry: CutoutGeometry, margin_arcmin: float, ra, dec) -> np.ndarray:
    """Whether whole cutouts centred at (ra, dec) (deg) stay ``margin_arcmin`` inside the footprint.

    The cutout's half-diagonal bounds its extent, as in :func:`skyhunt.cutouts.grid.make_grid`.
    """
    reach = (geometry.size_arcmin / 2.0 * np.sqrt(2.0) + margin_arcmin) / 60.0
    return footprint.padded(-reach).contains(ra, dec)


def score_cutouts(
    interp: PatchInterpolator,
    maps: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    geometry: CutoutGeometry,
    method: str,
    scorer: Scorer,
    block: int = 2048,
) -> np.ndarray:
    """Cut cutouts centred at (ra, dec) (deg) block by block and score each block.

    Parameters
    ----------
    interp, maps, geometry, method
        As for :func:`skyhunt.cutouts.extract.extract_cutouts` (maps: the bands of one stage).
    scorer : callable
        Cutouts (n, bands, npix, npix) µK_CMB -> n raw scores.
    block : int
        Cutouts held in memory at a time.

    Returns
    -------
    ndarray of float64
        One raw score per centre.
    """
    out = np.empty(np.size(ra))
    for start in range(0, out.size, block):
        sel = slice(start, start + block)
        out[sel] = scorer(extract_cutouts(interp, maps, ra[sel], dec[sel], geometry, method))
    return out


def centres_grid(ra: np.ndarray, dec: np.ndarray, stride_arcmin: float = np.nan) -> Grid:
    """Arbitrary cutout centres (deg) as a :class:`~skyhunt.cutouts.grid.Grid` (one row)."""
    n = np.size(ra)
    return Grid(np.asarray(ra, float), np.asarray(dec, float), np.zeros(n, int), np.arange(n), stride_arcmin)


def subgrid(grid: Grid, mask: np.ndarray) -> Grid:
    """The centres of ``grid`` where ``mask`` holds."""
    return Grid(grid.ra[mask], grid.dec[mask], grid.row[mask], grid.col[mask], grid.stride_arcmin)


def count_others(grid: Grid, target_id: np.ndarray, q: pd.DataFrame, half_arcmin: float) -> np.ndarray:
    """Qualifying halos other than each cutout's ``target_id`` within Chebyshev ``half_arcmin`` of its centre.

    Parameters
    ----------
    grid : Grid
        Cutout centres.
    target_id : ndarray of int
        The halo each cutout was cut for.
    q : pandas.DataFrame
        Qualifying halos (halo_id, ra, dec).
    half_arcmin : float
        Half-side of the square searched, arcmin.
    """
    if q.empty:
        return np.zeros(len(grid), np.int32)
    obj, cut, *_ = pairs_within(grid, q["ra"].to_numpy(), q["dec"].to_numpy(), half_arcmin)
    other = q["halo_id"].to_numpy()[obj] != np.asarray(target_id)[cut]
    return np.bincount(cut[other], minlength=len(grid)).astype(np.int32)


def recut_table(
    targets: pd.DataFrame,
    q: pd.DataFrame,
    design: pd.DataFrame,
    inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
    cut_and_score: Callable[[np.ndarray, np.ndarray], np.ndarray],
    geometry: CutoutGeometry,
    central_arcmin: float,
) -> pd.DataFrame:
    """Re-cut every target halo at the offsets and angles of ``design`` and score the new cutouts.

    Parameters
    ----------
    targets : pandas.DataFrame
        Halos to re-cut (halo_id, ra, dec, split), the rows ``design.halo`` refers to.
    q : pandas.DataFrame
        All qualifying halos (halo_id, ra, dec), to flag others in the new cutouts.
    design : pandas.DataFrame
        From :func:`offset_design`.
    inside : callable
        (ra, dec) of centres -> bool, whether the cutout can be cut (e.g. :func:`fits_inside`);
        the others are left out.
    cut_and_score : callable
        (ra, dec) of centres -> raw scores (e.g. :func:`score_cutouts` with a CNN scorer).
    geometry : CutoutGeometry
    central_arcmin : float
        Side of the central square of a positive cutout, arcmin (6' in DeepSZ).

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`RECUT_UNITS` but ``probability``; offsets measured in each new cutout's
        tangent plane.
    """
    halo = design["halo"].to_numpy()
    ra_h, dec_h = targets["ra"].to_numpy()[halo], targets["dec"].to_numpy()[halo]
    ra, dec = recut_centres(ra_h, dec_h, design["offset_arcmin"].to_numpy(), design["angle_deg"].to_numpy())
    keep = inside(ra, dec)
    if not keep.all():
        log.info("left out %d of %d re-cut cutouts reaching beyond the footprint", (~keep).sum(), keep.size)
    halo, ra, dec, ra_h, dec_h = halo[keep], ra[keep], dec[keep], ra_h[keep], dec_h[keep]
    xi, eta = tan_project(ra, dec, ra_h, dec_h)
    dx, dy = xi / ARCMIN, eta / ARCMIN
    ids = targets["halo_id"].to_numpy()[halo]
    grid = centres_grid(ra, dec)
    return pd.DataFrame(
        {
            "halo_id": ids,
            "split": targets["split"].to_numpy()[halo],
            "offset_arcmin": design["offset_arcmin"].to_numpy()[keep],
            "angle_deg": design["angle_deg"].to_numpy()[keep],
            "dx_arcmin": dx,
            "dy_arcmin": dy,
            "distance_arcmin": np.hypot(dx, dy),
            "chebyshev_arcmin": np.maximum(np.abs(dx), np.abs(dy)),
            "ra": ra,
            "dec": dec,
            "other_central": count_others(grid, ids, q, central_arcmin / 2.0),
            "other_in_cutout": count_others(grid, ids, q, geometry.size_arcmin / 2.0),
            "raw_score": cut_and_score(ra, dec),
        }
    )


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


def dense_cover(
    standard: Grid,
    test: np.ndarray,
    footprint: Footprint,
    geometry: CutoutGeometry,
    stride_arcmin: float,
    margin_arcmin: float,
    central_arcmin: float,
) -> tuple[Grid, np.ndarray]:
    """The dense (remedy) grid over the test area: the standard test cutouts' central squares.

    Every dense cutout whose middle half reaches the test area is kept, so that halos at the
    area's edge get all their cutouts.

    Parameters
    ----------
    standard : Grid
        The standard grid (the cutout index).
    test : ndarray of bool
        Standard cutouts of the test split.
    footprint, geometry, margin_arcmin
        As for :func:`skyhunt.cutouts.grid.make_grid`.
    stride_arcmin : float
        Dense stride, arcmin (DeepSZ: a quarter of the cutout width).
    central_arcmin : float
        Side of a standard cutout's central square, arcmin.

    Returns
    -------
    grid : Grid
        The kept dense centres (in make_grid order).
    in_test_area : ndarray of bool
        Whether each centre lies in the central square of a standard test cutout.
    """
    dense = make_grid(footprint, geometry, stride_arcmin, margin_arcmin)
    area = subgrid(standard, test)
    half = central_arcmin / 2.0
    near = np.zeros(len(dense), bool)
    near[pairs_within(area, dense.ra, dense.dec, half + geometry.size_arcmin / 4.0)[0]] = True
    dense = subgrid(dense, near)
    in_area = np.zeros(len(dense), bool)
    in_area[pairs_within(area, dense.ra, dense.dec, half)[0]] = True
    return dense, in_area


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
    sub = subgrid(grid, det)
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
    standard = subgrid(Grid.from_index(index, cutouts["stride_arcmin"]), test)
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


def run_edge_scores(
    cutouts: dict,
    edge: dict,
    nside: int,
    footprint: dict,
    cnn: dict,
    seed: int,
    map_paths: list,
    halos_path,
    index_path,
    model_path,
    cnn_scores_path,
    recut_out,
    dense_out,
) -> None:
    """Re-cut the validation and test clusters at chosen offsets, cut the dense test grid; score both.

    Parameters
    ----------
    cutouts, edge, footprint, cnn : dict
        Validated config sections ``cutouts``, ``evaluation.edge_effect``, ``sky.footprint``, ``cnn``.
    nside : int
        HEALPix resolution of the maps.
    seed : int
        Config ``seed`` (position angles).
    map_paths : list
        The evaluation stage's observed maps, one per band in ``sky.bands`` order.
    halos_path, index_path : path-like
        Halo table and cutout index.
    model_path, cnn_scores_path : path-like
        The stage's CNN checkpoint and score table (for its Platt parameters).
    recut_out, dense_out : path-like
        Parquet tables with the columns of :data:`RECUT_UNITS` and :data:`DENSE_UNITS`.
    """
    geometry = CutoutGeometry(cutouts["size_arcmin"], cutouts["npix"])
    fp = Footprint.from_config(footprint)
    margin = max(cutouts["edge_margin_arcmin"], interpolation_reach_arcmin(nside))
    index, _ = io.read_table(index_path)
    io.require_columns(
        index, {"cutout_id", "ra", "dec", "grid_row", "grid_col", "split", "label", "halo_id"}, index_path
    )
    halos, _ = io.read_table(halos_path)
    io.require_columns(halos, {"halo_id", "ra", "dec", "m_vir", "z"}, halos_path)
    positive = cutouts["positive"]
    q = qualifying(halos, positive["m_vir_min"], positive["z_min"])
    try:
        targets = positive_halos(index, halos)
    except ValueError as err:
        raise io.InputFileError(f"{index_path} and {halos_path} disagree: {err}") from err
    if targets.empty:
        raise io.InputFileError(f"{index_path}: no positive validation or test cutouts to re-cut")
    platt = read_platt(cnn_scores_path)
    module = load_model(model_path, cnn["accelerator"])
    pixels, maps = io.read_partial_maps(map_paths, nside)
    interp = PatchInterpolator(nside, pixels)

    def scorer(x):
        return predict_scores(module, x, np.arange(len(x)), cnn["training"]["batch_size"])

    def cut_and_score(ra, dec):
        return score_cutouts(interp, maps, ra, dec, geometry, cutouts["interpolation"], scorer)

    t0 = time.perf_counter()
    design = offset_design(
        len(targets),
        edge["max_offset_arcmin"],
        edge["offset_step_arcmin"],
        edge["angles"],
        np.random.default_rng([seed, RNG_STREAM]),
    )
    recut = recut_table(
        targets,
        q,
        design,
        functools.partial(fits_inside, fp, geometry, margin),
        cut_and_score,
        geometry,
        cutouts["central_arcmin"],
    )
    recut["probability"] = platt(recut["raw_score"].to_numpy())
    meta = {"edge_effect": edge, "platt_slope": platt.slope, "platt_intercept": platt.intercept}
    io.write_table(recut_out, {c: recut[c].to_numpy() for c in RECUT_UNITS}, RECUT_UNITS, meta=meta)
    t1 = time.perf_counter()
    log.info(
        "re-cut %d halos into %d cutouts (%d with another qualifying halo in the central square) in %.1f s",
        len(targets),
        len(recut),
        (recut["other_central"] > 0).sum(),
        t1 - t0,
    )

    standard = Grid.from_index(index, cutouts["stride_arcmin"])
    dense, in_area = dense_cover(
        standard,
        index["split"].to_numpy() == "test",
        fp,
        geometry,
        edge["dense_stride_arcmin"],
        margin,
        cutouts["central_arcmin"],
    )
    raw = cut_and_score(dense.ra, dense.dec)
    columns = {
        "ra": dense.ra,
        "dec": dense.dec,
        "grid_row": dense.row.astype(np.int32),
        "grid_col": dense.col.astype(np.int32),
        "in_test_area": in_area,
        "raw_score": raw,
        "probability": platt(raw),
    }
    io.write_table(dense_out, columns, DENSE_UNITS, meta=meta)
    log.info(
        "cut and scored %d dense-grid cutouts (%d centred in the test area) in %.1f s",
        len(dense),
        in_area.sum(),
        time.perf_counter() - t1,
    )
