"""Edge effect (DeepSZ 3.4.2, Fig. 9c): re-cut geometry and scoring, dense-grid remedy, figure."""

from __future__ import annotations

import json
import subprocess
import sys

import healpy as hp
import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from skyhunt import io
from skyhunt.catalogues.edge import EDGE_UNITS, centre_distance, edge_table
from skyhunt.cnn.module import CutoutClassifier
from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.cutouts.grid import (
    ARCMIN,
    CutoutGeometry,
    Grid,
    fits_inside,
    make_grid,
    standard_grid,
    tan_project,
)
from skyhunt.cutouts.labels import label_cutouts
from skyhunt.cutouts.layout import assign_splits
from skyhunt.evaluation.edge import (
    RECUT_UNITS,
    holding_count_and_best,
    merge_detections,
    offset_map,
    offset_profile,
    remedy_row,
    run_edge_effect_table,
)
from skyhunt.evaluation.edge_scores import (
    dense_cover,
    offset_design,
    recut_table,
    run_edge_effect_scores,
    score_cutouts,
)
from skyhunt.evaluation.ensembles import METHODS
from skyhunt.figures.edge import plot_edge_effect, run_edge_effect
from skyhunt.sky.footprint import Footprint

from .conftest import shipped_config

GEO = CutoutGeometry(8.0, 32)
NSIDE = 8192
SIGMA = 0.6  # arcmin, width of the synthetic clusters


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blob_maps(fp, ra, dec):
    """One band of Gaussian blobs (peak 1) at the given positions, on the footprint's pixels."""
    pix = fp.pixels(NSIDE)
    vec = np.column_stack(hp.pix2vec(NSIDE, pix))
    values = np.zeros(pix.size)
    for v in hp.ang2vec(ra, dec, lonlat=True):
        d = np.arccos(np.clip(vec @ v, -1, 1)) / ARCMIN
        values += np.exp(-0.5 * (d / SIGMA) ** 2)
    return pix, values.astype(np.float32)[:, None]


def _blob_offset(cutouts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid of the blob in each cutout as (east, north) offsets from the centre, arcmin."""
    c = cutouts[:, 0]
    w = c * (c > 0.05 * c.max(axis=(1, 2), keepdims=True))
    iy, ix = np.mgrid[0 : GEO.npix, 0 : GEO.npix]
    cy = (w * iy).sum(axis=(1, 2)) / w.sum(axis=(1, 2))
    cx = (w * ix).sum(axis=(1, 2)) / w.sum(axis=(1, 2))
    centre = (GEO.npix - 1) / 2.0
    return (centre - cx) * GEO.pixel_arcmin, (centre - cy) * GEO.pixel_arcmin


def _known_score(r):
    """The fake model's score as a function of the cluster's distance from the centre (arcmin)."""
    return np.exp(-r / 1.5)


@pytest.fixture(scope="module")
def blob_sky():
    fp = Footprint(30.0, 30.8, 10.0, 10.8)
    targets = pd.DataFrame(
        {
            "halo_id": [5, 9, 12],
            "ra": [30.2, 30.55, 30.35],
            "dec": [10.2, 10.25, 10.6],
            "split": ["test", "test", "validation"],
        }
    )
    pix, maps = _blob_maps(fp, targets["ra"].to_numpy(), targets["dec"].to_numpy())
    return fp, targets, PatchInterpolator(NSIDE, pix), maps


def test_recut_and_scoring_recover_a_known_offset_dependence(blob_sky):
    """A fake model scoring the blob's distance from the centre gives back that function, and the
    blob sits where the table says (east/north), so re-cut, extraction and scoring agree."""
    fp, targets, interp, maps = blob_sky
    # a qualifying halo without a blob 1.5' east of halo 5 (flags cutouts whose centre square holds it)
    extra_ra = 30.2 + 1.5 / 60.0 / np.cos(np.radians(10.2))
    q = pd.concat([targets, pd.DataFrame({"halo_id": [77], "ra": [extra_ra], "dec": [10.2]})])
    design = offset_design(len(targets), 2.0, 0.5, 6, np.random.default_rng(1))
    assert sorted(design["offset_arcmin"].unique()) == [0.0, 0.5, 1.0, 1.5, 2.0]

    def scorer(x):
        return _known_score(np.hypot(*_blob_offset(x)))

    def cut_and_score(ra, dec):
        return score_cutouts(interp, maps, ra, dec, GEO, "bilinear", scorer, block=7)

    recut = recut_table(
        targets, q, design, lambda ra, dec: fits_inside(fp, GEO, 1.0, ra, dec), cut_and_score, GEO, 6.0
    )
    assert len(recut) == len(design)
    angle = np.radians(recut["angle_deg"])
    np.testing.assert_allclose(recut["dx_arcmin"], recut["offset_arcmin"] * np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(recut["dy_arcmin"], recut["offset_arcmin"] * np.cos(angle), atol=1e-6)
    np.testing.assert_allclose(recut["distance_arcmin"], recut["offset_arcmin"], atol=1e-6)
    np.testing.assert_allclose(recut["raw_score"], _known_score(recut["distance_arcmin"]), atol=0.02)
    recut["probability"] = recut["raw_score"]
    profile = offset_profile(recut, exclude_others=False)
    np.testing.assert_allclose(profile["median"], _known_score(profile["offset_arcmin"]), atol=0.02)
    assert (profile["n_halos"] == 3).all()

    # orientation: the blob's measured (east, north) offset is the table's (dx, dy)
    cut = score_cutouts(
        interp, maps, recut["ra"].to_numpy(), recut["dec"].to_numpy(), GEO, "bilinear", _blob_dx
    )
    np.testing.assert_allclose(cut, recut["dx_arcmin"], atol=0.03)

    # other qualifying halos: brute force in each new cutout's tangent plane
    xi, eta = tan_project(recut["ra"].to_numpy(), recut["dec"].to_numpy(), extra_ra, 10.2)
    cheb = np.maximum(np.abs(xi), np.abs(eta)) / ARCMIN
    np.testing.assert_array_equal(recut["other_central"], (cheb <= 3.0).astype(int))
    np.testing.assert_array_equal(recut["other_in_cutout"], (cheb <= 4.0).astype(int))
    assert recut["other_central"].sum() > 0
    # flagged cutouts leave the profile; halo 5 keeps only its far, unflagged re-cuts
    kept = offset_profile(recut)
    assert kept["n_halos"].min() < 3


def _blob_dx(x):
    return _blob_offset(x)[0]


def test_fits_inside_keeps_cutouts_off_the_edge(blob_sky):
    fp = blob_sky[0]
    ra = np.array([30.4, 30.0 + 6.0 / 60.0, 30.0 + 8.0 / 60.0])
    assert fits_inside(fp, GEO, 1.0, ra, np.full(3, 10.4)).tolist() == [True, False, True]


@pytest.mark.parametrize(("stride", "half", "least"), [(2.0, 2.0, 4), (6.0, 3.0, 1)])
def test_dense_grid_puts_every_position_in_the_middle_half_of_four_cutouts(stride, half, least):
    """DeepSZ 3.4.2: a quarter-width stride puts each position in the middle half of >= 4 cutouts
    (and the standard grid's central squares tile the sky); a coarser stride would not.

    Away from the equator the on-sky rows leave slivers ~1e-3' wide (RA steps differ between
    rows), hence the 0.01' tolerance.
    """
    fp = Footprint(20.0, 21.5, 30.0, 31.5)
    grid = make_grid(fp, GEO, stride, 1.0)
    rng = np.random.default_rng(4)
    inner = Footprint(grid.ra.min() + 0.1, grid.ra.max() - 0.1, grid.dec.min() + 0.1, grid.dec.max() - 0.1)
    ra, dec = inner.sample_uniform(3000, rng)
    count, _ = holding_count_and_best(grid, np.zeros(len(grid)), ra, dec, half + 0.01)
    assert count.min() == least
    coarse = make_grid(fp, GEO, stride * 1.25, 1.0)
    assert holding_count_and_best(coarse, np.zeros(len(coarse)), ra, dec, half + 0.01)[0].min() < least


def test_dense_cover_reaches_across_the_test_stripe_edge():
    """Positions in the test area, including at its seam with validation, keep >= 4 dense cutouts."""
    fp = Footprint(0.0, 3.0, 0.0, 1.5)
    standard = make_grid(fp, GEO, 6.0, 1.0)
    test = assign_splits(standard.ra, fp.ra_min, fp.ra_max, 0.3, 0.5) == "test"
    dense, in_area = dense_cover(standard, test, fp, GEO, 2.0, 1.0, 6.0)
    area = standard.subset(test)
    ra, dec = Footprint(0.3, 1.2, 0.3, 1.2).sample_uniform(2000, np.random.default_rng(5))
    inside, _ = holding_count_and_best(area, np.zeros(len(area)), ra, dec, 3.0)
    ra, dec = ra[inside > 0], dec[inside > 0]
    assert ra.max() > 0.85  # the seam with validation (RA 0.9) is sampled
    count, _ = holding_count_and_best(dense, np.zeros(len(dense)), ra, dec, 2.0)
    assert count.min() >= 4
    # detections are counted in the test area only: dense centres in its central squares
    held, _ = holding_count_and_best(area, np.zeros(len(area)), dense.ra, dense.dec, 3.0)
    np.testing.assert_array_equal(in_area, held > 0)
    assert (~in_area).any()


def test_merge_is_greedy_non_maximum_suppression():
    """Peaks absorb detections closer than the merging distance, strongest first (not friends-of-friends)."""
    x = np.array([0, 2, 4, 6, 8, 10, 14], float)  # arcmin along the equator
    p = np.array([0.5, 0.9, 0.6, 0.3, 0.8, 0.1, 0.4])
    grid = Grid.from_centres(x / 60.0, np.zeros(x.size))
    np.testing.assert_array_equal(merge_detections(grid, p, 0.25, 6.0), [1, 4, 6])
    np.testing.assert_array_equal(merge_detections(grid, p, 0.25, 2.0), [1, 4, 2, 0, 6, 3])
    assert merge_detections(grid, p, 0.95, 6.0).size == 0


def test_remedy_row_counts_found_halos_and_false_candidates():
    fp = Footprint(10.0, 12.0, 0.0, 1.0)
    grid = make_grid(fp, GEO, 6.0, 1.0)
    rng = np.random.default_rng(6)
    ra, dec = grid.ra[[3, 40, 77]] + 0.02, grid.dec[[3, 40, 77]] - 0.03  # 1.2', 1.8' off three centres
    q = pd.DataFrame({"ra": ra, "dec": dec})
    prob = rng.uniform(0.0, 0.2, len(grid))
    prob[3], prob[40] = 0.9, 0.6  # two clusters found, the third (77) missed
    prob[4] = 0.7  # neighbour of a cluster's cutout, no cluster in its centre: false, not merged (6')
    prob[100] = 0.95  # a lone false detection
    row = remedy_row(grid, prob, np.ones(len(grid), bool), 0.5, q, q, 3.0, 6.0, 6.0, 2.0)
    assert row["halos"] == 3 and row["halos_found"] == 2 and row["completeness"] == pytest.approx(2 / 3)
    assert row["detections"] == row["candidates"] == 4
    assert row["false_candidates"] == row["detections_unexplained"] == 2
    assert row["false_per_deg2"] == pytest.approx(1.0)
    merged = remedy_row(grid, prob, np.ones(len(grid), bool), 0.5, q, q, 3.0, 6.0, 8.0, 2.0)
    assert merged["candidates"] == 3 and merged["false_candidates"] == 1


def _profile_inputs():
    offsets = np.arange(0.0, 5.01, 0.25)
    rng = np.random.default_rng(0)
    rows = []
    for h in range(6):
        for off in offsets:
            for a in rng.uniform(0, 360, 4):
                p = np.clip(1.0 / (1.0 + np.exp(2.0 * (off - 3.0))) + rng.normal(0, 0.05), 0, 1)
                rows.append((h, off, off * np.sin(np.radians(a)), off * np.cos(np.radians(a)), p))
    recut = pd.DataFrame(rows, columns=["halo_id", "offset_arcmin", "dx_arcmin", "dy_arcmin", "probability"])
    recut["other_central"] = 0
    remedy = pd.DataFrame(
        {
            "grid": ["standard", "dense"],
            "stride_arcmin": [6.0, 2.0],
            "threshold": [0.3, 0.3],
            "halos": [10, 10],
            "halos_found": [6, 8],
            "false_per_deg2": [0.5, 1.1],
        }
    )
    return recut, remedy


def _detector_edge():
    """An edge table: the classifier's completeness falls beyond 3', the detector's is flat at 0.9."""
    rng = np.random.default_rng(1)
    distance = rng.uniform(0, 4.2, 400)
    classifier = rng.uniform(size=400) < np.where(distance < 3.0, 0.9, 0.3)
    detector = rng.uniform(size=400) < 0.9
    return edge_table(distance, detector, classifier, 0.5, 0.68)


def test_edge_table_recovers_both_completeness_curves():
    table = _detector_edge()
    assert list(table["distance_lo_arcmin"]) == list(np.arange(0, 4.1, 0.5)) and table["n_halos"].sum() == 400
    inner, outer = table[table["distance_hi_arcmin"] <= 3.0], table[table["distance_lo_arcmin"] >= 3.0]
    assert np.all(np.abs(table["detector_completeness"] - 0.9) < 0.15)
    assert np.all(np.abs(inner["classifier_completeness"] - 0.9) < 0.15)
    assert np.all(np.abs(outer["classifier_completeness"] - 0.3) < 0.2)
    assert np.all(
        (table["detector_lo"] <= table["detector_completeness"])
        & (table["detector_completeness"] <= table["detector_hi"])
    )


def test_centre_distance_is_the_distance_to_the_holding_cutout():
    grid = Grid.from_centres(np.array([10.0, 10.1]), np.array([0.0, 0.0]), 6.0)
    geometry = CutoutGeometry(8.0, 32)
    cut, dist = centre_distance(
        grid, geometry, np.array([10.0 + 1 / 60, 10.1, 10.05, 11.0]), np.array([1 / 60, 0.5 / 60, 0.0, 0.0])
    )
    assert list(cut[:2]) == [0, 1] and cut[3] == -1
    np.testing.assert_allclose(dist[:2], [np.sqrt(2.0), 0.5], rtol=1e-4)
    assert dist[2] == pytest.approx(3.0, rel=1e-4) and np.isnan(dist[3])


def test_profile_and_map_follow_the_known_curve():
    recut, _ = _profile_inputs()
    profile = offset_profile(recut)
    expected = 1.0 / (1.0 + np.exp(2.0 * (profile["offset_arcmin"] - 3.0)))
    np.testing.assert_allclose(profile["median"], expected, atol=0.06)
    assert (profile["p10"] <= profile["median"]).all() and (profile["median"] <= profile["p90"]).all()
    edges, mean = offset_map(recut, 5.0, 0.5)
    assert edges[0] == -5.0 and edges[-1] == 5.0 and mean.shape == (20, 20)
    assert np.nanmean(mean[8:12, 8:12]) > 0.8 and np.nanmax(mean[0]) < 0.2


def test_figure_smoke_and_deterministic(tmp_path):
    recut, remedy = _profile_inputs()
    edges, mean = offset_map(recut, 5.0, 0.5)
    for run in ("a", "b"):
        plot_edge_effect(
            offset_profile(recut),
            edges,
            mean,
            remedy,
            0.3,
            6.0,
            8.0,
            "test",
            tmp_path / f"{run}.png",
            tmp_path / f"{run}.pdf",
            _detector_edge(),
            "CNN detector",
        )
    for ext in ("png", "pdf"):
        assert (tmp_path / f"a.{ext}").stat().st_size > 1000
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()


@pytest.mark.parametrize(
    "module",
    ["skyhunt.evaluation.edge", "skyhunt.figures.edge", "skyhunt.figures.training", "skyhunt.cnn.readers"],
)
def test_edge_statistics_and_figure_import_no_torch(module):
    """The remedy table and the figures are CPU jobs: importing them must not pull in torch."""
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def _tiny_run(tmp_path):
    """A 2 deg x 1 deg noise sky with halos, its cutout index, an untrained CNN and Platt parameters."""
    cfg = shipped_config()
    cfg["sky"]["footprint"] = {"ra_min": 10.0, "ra_max": 12.0, "dec_min": 0.0, "dec_max": 1.0}
    cfg["sky"]["nside"] = 2048
    cfg["evaluation"]["edge_effect"].update(max_offset_arcmin=4.0, offset_step_arcmin=1.0, angles=2)
    fp = Footprint.from_config(cfg["sky"]["footprint"])
    rng = np.random.default_rng(0)
    pix = fp.pixels(2048)
    maps = []
    for b in ("090", "148", "219"):
        maps.append(tmp_path / f"dust_{b}.fits")
        io.write_partial_map(maps[-1], pix, rng.normal(0, 10, pix.size), 2048)
    ra, dec = fp.sample_uniform(60, rng)
    halos = {
        "halo_id": np.arange(60),
        "ra": ra,
        "dec": dec,
        "z": np.full(60, 0.5),
        "m_vir": np.full(60, 3e14),
    }
    io.write_table(tmp_path / "halos.parquet", halos, {})
    cc = cfg["cutouts"]
    grid = standard_grid(fp, cc, 2048)  # the grid of run_cutouts
    labels = label_cutouts(grid, GEO, pd.DataFrame(halos), 6.0, 2e14, 0.25)
    split = assign_splits(grid.ra, fp.ra_min, fp.ra_max, 0.3, 0.5)
    index = {"cutout_id": np.arange(len(grid)), "ra": grid.ra, "dec": grid.dec, "grid_row": grid.row}
    index |= {"grid_col": grid.col, "split": split, **{c: labels[c].to_numpy() for c in ("label", "halo_id")}}
    io.write_table(tmp_path / "index.parquet", index, {})
    L.seed_everything(0)
    opt = cfg["cnn"]["optimizer"]
    module = CutoutClassifier("small", 3, 32, [0.0] * 3, [10.0] * 3, opt)
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": L.__version__,
        },
        tmp_path / "model.ckpt",
    )
    scores = {"cutout_id": index["cutout_id"], "probability": np.zeros(len(grid))}
    io.write_table(
        tmp_path / "scores.parquet", scores, {}, meta={"platt_slope": 2.0, "platt_intercept": -1.0}
    )
    io.write_table(tmp_path / "no_platt.parquet", scores, {})
    return cfg, maps


def _run_scores(tmp_path, cfg, maps, out, scores="scores.parquet"):
    run_edge_effect_scores(
        cutouts=cfg["cutouts"],
        edge=cfg["evaluation"]["edge_effect"],
        nside=cfg["sky"]["nside"],
        footprint=cfg["sky"]["footprint"],
        accelerator="cpu",
        batch_size=cfg["cnn"]["training"]["batch_size"],
        seed=cfg["seed"],
        maps=maps,
        halos=tmp_path / "halos.parquet",
        index=tmp_path / "index.parquet",
        model=tmp_path / "model.ckpt",
        scores=tmp_path / scores,
        recut=tmp_path / out / "recut.parquet",
        dense=tmp_path / out / "dense.parquet",
    )


def test_run_edge_effect_scores_is_deterministic_and_fails_cleanly(tmp_path):
    cfg, maps = _tiny_run(tmp_path)
    for out in ("a", "b"):
        _run_scores(tmp_path, cfg, maps, out)
    for name in ("recut", "dense"):
        assert (tmp_path / "a" / f"{name}.parquet").read_bytes() == (
            tmp_path / "b" / f"{name}.parquet"
        ).read_bytes()
    recut, units = io.read_table(tmp_path / "a" / "recut.parquet")
    assert set(units) == set(RECUT_UNITS)
    index, _ = io.read_table(tmp_path / "index.parquet")
    positives = index[(index["label"] == 1) & (index["split"] != "train")]
    assert set(recut["halo_id"]) <= set(positives["halo_id"]) and len(recut) > 0
    np.testing.assert_allclose(recut["probability"], 1 / (1 + np.exp(-(2.0 * recut["raw_score"] - 1.0))))
    dense, _ = io.read_table(tmp_path / "a" / "dense.parquet")
    assert dense["in_test_area"].sum() > 0.75 * 9 * (index["split"] == "test").sum()  # 9 per test cutout

    # the table and the figure: a thresholds file of another stage fails, naming it, before anything
    # is written
    thresholds = tmp_path / "thresholds.json"
    methods = {m: {"threshold": 0.5} for m in METHODS}
    thresholds.write_text(json.dumps({"stage": "ksz", "methods": methods}))
    table = {"csv": tmp_path / "tab" / "e.csv", "md": tmp_path / "tab" / "e.md"}
    figure = {"png": tmp_path / "fig" / "e.png", "pdf": tmp_path / "fig" / "e.pdf"}
    edge = cfg["evaluation"]["edge_effect"]
    table_args = {
        "cutouts": cfg["cutouts"],
        "dense_stride_arcmin": edge["dense_stride_arcmin"],
        "stage": "dust",
    }
    table_args |= {"dense": tmp_path / "a" / "dense.parquet", "index": tmp_path / "index.parquet"}
    table_args |= {"halos": tmp_path / "halos.parquet", "scores": tmp_path / "scores.parquet"}
    figure_args = {"cutouts": cfg["cutouts"], "edge": edge, "stages": cfg["sky"]["stages"], "stage": "dust"}
    figure_args |= {"recut": tmp_path / "a" / "recut.parquet", "remedy": table["csv"]}
    figure_args["detector_edge"] = tmp_path / "detector_edge.parquet"
    edge_rows = _detector_edge()
    meta = {"detector_threshold": 0.5, "detector_purity": 0.8, "cnn_threshold": 0.5}
    io.write_table(figure_args["detector_edge"], dict(edge_rows.items()), EDGE_UNITS, meta=meta)
    with pytest.raises(io.InputFileError, match="thresholds.json"):
        run_edge_effect_table(**table_args, thresholds=thresholds, **table)
    with pytest.raises(io.InputFileError, match="thresholds.json"):
        run_edge_effect(**figure_args, thresholds=thresholds, **figure)
    assert not (tmp_path / "tab").exists() and not (tmp_path / "fig").exists()
    thresholds.write_text(json.dumps({"stage": "dust", "methods": methods}))
    run_edge_effect_table(**table_args, thresholds=thresholds, **table)
    run_edge_effect(**figure_args, thresholds=thresholds, **figure)
    remedy = pd.read_csv(table["csv"])
    assert remedy["grid"].tolist() == ["standard", "dense"]
    assert all(p.exists() for p in [*table.values(), *figure.values()])

    # missing Platt parameters: a clear error naming the file, no output left behind
    with pytest.raises(io.InputFileError, match="no_platt.parquet"):
        _run_scores(tmp_path, cfg, maps, "c", scores="no_platt.parquet")
    assert not (tmp_path / "c").exists()
