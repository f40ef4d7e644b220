"""The CNN's edge effect (DeepSZ section 3.4.2, Fig. 9c): re-cut and dense-grid cutouts, scored by the CNN.

The scoring job of :mod:`skyhunt.evaluation.edge` (which describes both measurements): the
validation and test clusters are cut again at chosen offsets from the cutout centre, the test
stripe is cut on the dense (quarter-overlap) grid, and the evaluation stage's CNN scores both.
This is the one edge-effect module that imports torch.

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
from skyhunt.cnn.pipeline import load_model, read_platt
from skyhunt.cnn.scoring import predict_scores
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts
from skyhunt.cutouts.grid import (
    ARCMIN,
    CutoutGeometry,
    Grid,
    edge_margin_arcmin,
    fits_inside,
    make_grid,
    recut_centres,
    tan_project,
)
from skyhunt.cutouts.labels import count_others, pairs_within
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.evaluation.edge import DENSE_UNITS, RECUT_UNITS, qualifying
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import HALO_CUT_COLUMNS, read_halos

log = logging.getLogger("skyhunt.evaluation")

#: A scorer maps cutouts (N, bands, npix, npix) in µK_CMB to N raw scores (log-odds).
Scorer = Callable[[np.ndarray], np.ndarray]

#: Second entry of the RNG seed, keeping the position angles apart from other uses of ``seed``.
RNG_STREAM = 3042


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
        (ra, dec) of centres -> bool, whether the cutout can be cut (e.g.
        :func:`skyhunt.cutouts.grid.fits_inside`); the others are left out.
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
    grid = Grid.from_centres(ra, dec)
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
    area = standard.subset(test)
    half = central_arcmin / 2.0
    near = np.zeros(len(dense), bool)
    near[pairs_within(area, dense.ra, dense.dec, half + geometry.size_arcmin / 4.0)[0]] = True
    dense = dense.subset(near)
    in_area = np.zeros(len(dense), bool)
    in_area[pairs_within(area, dense.ra, dense.dec, half)[0]] = True
    return dense, in_area


def run_edge_effect_scores(
    *,
    cutouts: dict,
    edge: dict,
    nside: int,
    footprint: dict,
    accelerator: str,
    batch_size: int,
    seed: int,
    maps: list,
    halos,
    index,
    model,
    scores,
    recut,
    dense,
) -> None:
    """Re-cut the validation and test clusters at chosen offsets, cut the dense test grid; score both.

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` (geometry, stride, central square, edge margin, positive cut, interpolation).
    edge : dict
        Config ``evaluation.edge_effect``.
    nside : int
        HEALPix resolution of the maps.
    footprint : dict
        Config ``sky.footprint`` (deg).
    accelerator : str
        Config ``cnn.accelerator``.
    batch_size : int
        Cutouts per inference batch (config ``cnn.training.batch_size``).
    seed : int
        Config ``seed`` (position angles).
    maps : list
        The evaluation stage's observed maps, one per band in ``sky.bands`` order.
    halos, index : path-like
        Halo table and cutout index.
    model, scores : path-like
        The stage's CNN checkpoint and score table (for its Platt parameters).
    recut, dense : path-like
        Output Parquet tables with the columns of :data:`RECUT_UNITS` and :data:`DENSE_UNITS`.
    """
    geometry = CutoutGeometry.from_config(cutouts)
    fp = Footprint.from_config(footprint)
    margin = edge_margin_arcmin(cutouts, nside)
    cutout_index = read_index(index, (*GRID_COLUMNS, "split", "label", "halo_id"))
    halo_table = read_halos(halos, HALO_CUT_COLUMNS)
    positive = cutouts["positive"]
    q = qualifying(halo_table, positive["m_vir_min"], positive["z_min"])
    try:
        targets = positive_halos(cutout_index, halo_table)
    except ValueError as err:
        raise io.InputFileError(f"{index} and {halos} disagree: {err}") from err
    if targets.empty:
        raise io.InputFileError(f"{index}: no positive validation or test cutouts to re-cut")
    platt = read_platt(scores)
    module = load_model(model, accelerator)
    pixels, values = io.read_partial_maps(maps, nside)
    interp = PatchInterpolator(nside, pixels)

    def scorer(x):
        return predict_scores(module, x, np.arange(len(x)), batch_size)

    def cut_and_score(ra, dec):
        return score_cutouts(interp, values, ra, dec, geometry, cutouts["interpolation"], scorer)

    t0 = time.perf_counter()
    design = offset_design(
        len(targets),
        edge["max_offset_arcmin"],
        edge["offset_step_arcmin"],
        edge["angles"],
        np.random.default_rng([seed, RNG_STREAM]),
    )
    recut_rows = recut_table(
        targets,
        q,
        design,
        functools.partial(fits_inside, fp, geometry, margin),
        cut_and_score,
        geometry,
        cutouts["central_arcmin"],
    )
    recut_rows["probability"] = platt(recut_rows["raw_score"].to_numpy())
    meta = {"edge_effect": edge, "platt_slope": platt.slope, "platt_intercept": platt.intercept}
    io.write_table(recut, {c: recut_rows[c].to_numpy() for c in RECUT_UNITS}, RECUT_UNITS, meta=meta)
    t1 = time.perf_counter()
    log.info(
        "re-cut %d halos into %d cutouts (%d with another qualifying halo in the central square) in %.1f s",
        len(targets),
        len(recut_rows),
        (recut_rows["other_central"] > 0).sum(),
        t1 - t0,
    )

    standard = Grid.from_index(cutout_index, cutouts["stride_arcmin"])
    dense_grid, in_area = dense_cover(
        standard,
        cutout_index["split"].to_numpy() == "test",
        fp,
        geometry,
        edge["dense_stride_arcmin"],
        margin,
        cutouts["central_arcmin"],
    )
    raw = cut_and_score(dense_grid.ra, dense_grid.dec)
    columns = {
        "ra": dense_grid.ra,
        "dec": dense_grid.dec,
        "grid_row": dense_grid.row.astype(np.int32),
        "grid_col": dense_grid.col.astype(np.int32),
        "in_test_area": in_area,
        "raw_score": raw,
        "probability": platt(raw),
    }
    io.write_table(dense, columns, DENSE_UNITS, meta=meta)
    log.info(
        "cut and scored %d dense-grid cutouts (%d centred in the test area) in %.1f s",
        len(dense_grid),
        in_area.sum(),
        time.perf_counter() - t1,
    )
