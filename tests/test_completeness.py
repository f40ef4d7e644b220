"""Completeness and selection function (DeepSZ 3.5, Figs. 10-12): per-halo detections, binomial intervals,
binned recall against a known detection probability, and the three figures on synthetic tables."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from skyhunt import io
from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, make_grid, tan_deproject
from skyhunt.cutouts.labels import label_cutouts
from skyhunt.cutouts.layout import assign_splits
from skyhunt.evaluation.completeness import (
    HALO_DETECTION_UNITS,
    anchored_edges,
    binned_recall,
    check_qualifying_labelled,
    halo_detections,
    jeffreys_interval,
    recall_curves,
    run_halo_detections,
    selection_grid,
)
from skyhunt.evaluation.ensembles import METHODS
from skyhunt.figures.completeness import (
    run_completeness_mass,
    run_completeness_redshift,
    run_selection_function,
)
from skyhunt.sky.footprint import Footprint

from .conftest import shipped_config

GEO = CutoutGeometry(8.0, 32)
POSITIVE = {"m_vir_min": 2e14, "z_min": 0.25}


# --- binomial intervals and binned recall ------------------------------------------------------


@pytest.mark.parametrize("n", [5, 12, 40])
def test_jeffreys_interval_covers_truth_at_stated_rate(n):
    """Exact coverage (sum of binomial probabilities of the k whose interval holds p), averaged over p,
    is the nominal 68 %, and it stays near it for most p (it oscillates with p, as every exact-discrete
    interval does; Brown, Cai & DasGupta 2001)."""
    k = np.arange(n + 1)
    lower, upper = jeffreys_interval(k, np.full(k.size, n), 0.68)
    ps = np.linspace(0.02, 0.98, 97)
    coverage = np.array([binom.pmf(k, n, p)[(lower <= p) & (p <= upper)].sum() for p in ps])
    assert abs(coverage.mean() - 0.68) < 0.03
    assert np.percentile(coverage, 10) > 0.58


def test_jeffreys_interval_limits():
    lower, upper = jeffreys_interval([0, 3, 10], [10, 10, 10], 0.68)
    assert lower[0] == 0 and upper[2] == 1
    assert lower[1] < 0.3 < upper[1]
    wide_lo, wide_hi = jeffreys_interval(3, 10, 0.95)
    assert wide_lo < lower[1] and wide_hi > upper[1]


def _p_detect(logm):
    """A known detection probability: a logistic step of width 0.15 dex at 2e14 M_sun."""
    return 1.0 / (1.0 + np.exp(-(logm - np.log10(2e14)) / 0.15))


def test_binned_recall_recovers_known_detection_probability():
    """Many halos: the binned recall equals the bin-averaged p(M) within its interval's scale."""
    rng = np.random.default_rng(3)
    logm = rng.uniform(13.7, 15.0, 40000)
    detected = rng.random(logm.size) < _p_detect(logm)
    edges = anchored_edges(13.7, 15.0, 0.1, anchor=np.log10(2e14))
    table = binned_recall(logm, detected, edges, 0.68)
    fine = np.linspace(13.7, 15.0, 130001)
    truth = np.array([_p_detect(fine[(fine >= a) & (fine < b)]).mean() for a, b in pairwise(edges)])
    half_width = 0.5 * (table["upper"] - table["lower"]).to_numpy()
    assert np.all(np.abs(table["recall"].to_numpy() - truth) < 4 * half_width + 1e-3)
    assert table["n"].sum() == logm.size


def test_binned_recall_intervals_cover_truth_over_many_draws():
    """Few halos per bin (as in the default test split): the 68 % intervals hold the true probability in
    about 68 % of bins over repeated skies."""
    rng = np.random.default_rng(11)
    edges = np.linspace(0.0, 1.0, 9)
    p_bin = np.linspace(0.05, 0.95, 8)  # piecewise constant: the truth of each bin is exact
    covered = []
    for _ in range(400):
        x = rng.random(60)
        detected = rng.random(x.size) < p_bin[np.minimum((x * 8).astype(int), 7)]
        t = binned_recall(x, detected, edges, 0.68)
        ok = t["n"].to_numpy() > 0
        covered.append(((t["lower"] <= p_bin) & (p_bin <= t["upper"])).to_numpy()[ok])
    rate = np.concatenate(covered).mean()
    assert 0.64 < rate < 0.74


def test_binned_recall_empty_bins_and_outliers():
    t = binned_recall([0.5, 0.6, 5.0], [True, False, True], [0.0, 1.0, 2.0])
    assert t["n"].tolist() == [2, 0] and t["k"].tolist() == [1, 0]
    assert t["recall"].iloc[0] == 0.5 and np.isnan(t["recall"].iloc[1]) and np.isnan(t["lower"].iloc[1])


def test_anchored_edges_put_the_cut_on_an_edge():
    e = anchored_edges(np.log10(5e13), 15.1, 0.15, anchor=np.log10(2e14))
    assert e[0] == pytest.approx(np.log10(5e13)) and e[-1] >= 15.1
    assert np.min(np.abs(e - np.log10(2e14))) < 1e-12
    assert np.allclose(np.diff(e), np.diff(e)[0]) and abs(np.diff(e)[0] - 0.15) < 0.03
    assert np.allclose(anchored_edges(0.0, 1.0, 0.25), [0, 0.25, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError):
        anchored_edges(1.0, 1.0, 0.1)


def test_selection_grid_blanks_sparse_bins():
    x = np.array([0.1, 0.2, 0.3, 0.4, 1.5, 1.6])
    y = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    det = np.array([True, False, True, True, True, False])
    frac, n = selection_grid(x, y, det, [0, 1, 2], [0, 1], min_per_bin=3)
    assert n[:, 0].tolist() == [4, 2]
    assert frac[0, 0] == 0.75 and np.isnan(frac[1, 0])


# --- per-halo detections on a synthetic grid ---------------------------------------------------


def _synthetic_sky():
    """A small grid (labels and RA-stripe splits as the cutouts stage makes them) and halos placed at
    chosen offsets from chosen cutout centres."""
    fp = Footprint(30.0, 31.2, 10.0, 10.8)
    grid = make_grid(fp, GEO, 6.0, 1.0)
    split = assign_splits(grid.ra, fp.ra_min, fp.ra_max, 0.3, 0.5)
    test = np.flatnonzero(split == "test")
    val = np.flatnonzero(split == "validation")
    inner = test[(grid.row[test] > 0) & (grid.row[test] < grid.row.max()) & (grid.col[test] > 0)]
    # (cutout, east offset, north offset [arcmin], m_vir [M_sun], z)
    placed = [
        (inner[0], 1.0, -2.0, 3e14, 0.5),  # qualifying, in a test cutout
        (inner[1], -2.9, 0.5, 8e13, 0.1),  # low mass, low z
        (inner[2], 0.0, 0.0, 1.2e14, 0.8),
        (inner[2], 2.0, 2.0, 9e13, 1.2),  # shares its cutout with the previous halo
        (val[0], 0.0, 0.0, 5e14, 0.6),  # validation split: not counted
        (inner[3], 0.0, 0.0, 2e13, 0.5),  # below m_vir_min: not counted
    ]
    edge = test[grid.row[test] == 0][0]  # bottom row: 3.5' south of its centre lies in no central square
    placed.append((edge, 0.0, -3.5, 2e14, 0.4))
    cut, dx, dy, m, z = (np.array(v) for v in zip(*placed, strict=True))
    ra, dec = tan_deproject(grid.ra[cut], grid.dec[cut], dx * ARCMIN, dy * ARCMIN)
    halos = pd.DataFrame(
        {
            "halo_id": np.arange(cut.size) + 100,
            "ra": ra,
            "dec": dec,
            "z": z,
            "m_vir": m,
            "theta500_arcmin": np.full(cut.size, 1.0),
        }
    )
    labels = label_cutouts(grid, GEO, halos, 6.0, POSITIVE["m_vir_min"], POSITIVE["z_min"])
    index = pd.DataFrame(
        {
            "cutout_id": np.arange(len(grid)),
            "ra": grid.ra,
            "dec": grid.dec,
            "grid_row": grid.row,
            "grid_col": grid.col,
            "split": split,
            "label": labels["label"].to_numpy(),
        }
    )
    keep = np.isin(split, ["test", "validation"])
    predictions = pd.DataFrame({"cutout_id": index["cutout_id"][keep]})
    for m in METHODS:
        predictions[f"{m}_pos"] = False
    predictions.loc[predictions["cutout_id"] == inner[0], ["cnn_pos", "prod_pos"]] = True
    predictions.loc[predictions["cutout_id"] == inner[2], "mf_pos"] = True
    return grid, halos, index, predictions, inner


def test_halo_detections_assign_each_halo_its_cutout_and_the_predictions():
    grid, halos, index, predictions, inner = _synthetic_sky()
    det = halo_detections(halos, index, predictions, GEO, 6.0, 6.0, 5e13)
    assert det["halo_id"].tolist() == [100, 101, 102, 103]  # validation, light and edge halos left out
    assert det["cutout_id"].tolist() == [inner[0], inner[1], inner[2], inner[2]]
    assert det["cutout_label"].tolist() == [True, False, False, False]
    assert det["detected_cnn"].tolist() == [True, False, False, False]
    assert det["detected_prod"].tolist() == [True, False, False, False]
    assert det["detected_mf"].tolist() == [False, False, True, True]  # a shared cutout detects both
    assert not det["detected_and"].any()
    check_qualifying_labelled(det, **POSITIVE)
    det.loc[0, "cutout_label"] = False
    with pytest.raises(ValueError, match="qualifying halos lie in cutouts labelled negative"):
        check_qualifying_labelled(det, **POSITIVE)


def test_halo_detections_need_a_prediction_for_every_cutout():
    _, halos, index, predictions, inner = _synthetic_sky()
    with pytest.raises(ValueError, match="no prediction"):
        halo_detections(halos, index, predictions[predictions["cutout_id"] != inner[1]], GEO, 6.0, 6.0, 5e13)


def _write_inputs(tmp_path):
    _, halos, index, predictions, _ = _synthetic_sky()
    paths = {k: tmp_path / f"{k}.parquet" for k in ("halos", "index", "scores")}
    for key, table in (("halos", halos), ("index", index), ("scores", predictions)):
        io.write_table(paths[key], {c: table[c].to_numpy() for c in table}, {c: "" for c in table})
    return paths


def test_run_halo_detections_writes_table_and_fails_cleanly(tmp_path):
    cfg = shipped_config()
    paths = _write_inputs(tmp_path)
    out = tmp_path / "det.parquet"
    args = {"cutouts": cfg["cutouts"], "m_vir_min": cfg["evaluation"]["halos"]["m_vir_min"], "stage": "dust"}
    args |= {"halos": paths["halos"], "index": paths["index"], "scores": paths["scores"]}
    run_halo_detections(**args, detections=out)
    table, units = io.read_table(out)
    assert list(table.columns) == list(HALO_DETECTION_UNITS) and units["m_vir"] == "M_sun"
    assert len(table) == 4
    scores, _ = io.read_table(paths["scores"])
    io.write_table(paths["scores"], {"cutout_id": scores["cutout_id"].to_numpy()}, {"cutout_id": ""})
    bad = tmp_path / "bad.parquet"
    with pytest.raises(io.InputFileError, match="scores.parquet lacks columns"):
        run_halo_detections(**args, detections=bad)
    assert not bad.exists()


# --- figures on a synthetic detection table ---------------------------------------------------


def _detection_table(path, n: int = 3000, seed: int = 5) -> None:
    """Halos from a steep mass function, detected with probability p(M) (MF favours high z)."""
    rng = np.random.default_rng(seed)
    logm = np.log10(5e13) + rng.exponential(0.25, n)
    z = rng.uniform(0.05, 2.5, n)
    p = _p_detect(logm)
    cols = {
        "halo_id": np.arange(n),
        "ra": rng.uniform(0, 1, n),
        "dec": rng.uniform(0, 1, n),
        "z": z,
        "m_vir": 10**logm,
        "theta500_arcmin": 10 ** (0.3 * (logm - 14) - 0.5 * np.log10(1 + z)),
        "cutout_id": np.arange(n),
        "cutout_label": (logm >= np.log10(2e14)) & (z >= 0.25),
    }
    for m in METHODS:
        boost = 0.1 * (z > 1) if m == "mf" else 0.0
        cols[f"detected_{m}"] = rng.random(n) < np.clip(p + boost, 0, 1)
    io.write_table(path, cols, HALO_DETECTION_UNITS)


def test_recall_curves_separate_selections_and_methods(tmp_path):
    _detection_table(tmp_path / "det.parquet", n=500)
    det, _ = io.read_table(tmp_path / "det.parquet")
    logm = np.log10(det["m_vir"].to_numpy())
    masks = {"all": np.ones(len(det), bool), "zcut": det["z"].to_numpy() >= 0.25}
    curves = recall_curves(det, logm, [13.6, 14.3, 15.5], masks, ("cnn", "mf"), 0.68)
    assert len(curves) == 2 * 2 * 2
    inside = logm < 15.5
    for sel, mask in masks.items():
        for m in ("cnn", "mf"):
            c = curves[(curves["selection"] == sel) & (curves["method"] == m)]
            assert c["n"].sum() == np.sum(inside & mask)
            assert c["k"].sum() == det[f"detected_{m}"][inside & mask].sum()


def test_figures_smoke(tmp_path):
    cfg = shipped_config()
    det = tmp_path / "det.parquet"
    _detection_table(det)
    halos_cfg = cfg["evaluation"]["halos"]
    common = {"detections": det, "positive": cfg["cutouts"]["positive"], "stages": cfg["sky"]["stages"]}
    common["stage"] = "dust"
    mass = {"halo_bins": {k: halos_cfg[k] for k in ("m_vir_min", "mass_bin_dex")}, "interval": 0.68}
    pngs = []
    for name, run, args in (
        ("mass", run_completeness_mass, mass),
        (
            "redshift",
            run_completeness_redshift,
            {"redshift_bin": halos_cfg["redshift_bin"], "interval": 0.68},
        ),
        ("selection", run_selection_function, {"halo_bins": halos_cfg}),
    ):
        png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
        run(**common, **args, png=png, pdf=pdf)
        assert png.stat().st_size > 10000 and pdf.read_bytes().startswith(b"%PDF")
        pngs.append(png)
    first = pngs[0].read_bytes()
    run_completeness_mass(**common, **mass, png=pngs[0], pdf=tmp_path / "again.pdf")
    assert pngs[0].read_bytes() == first  # same inputs, same bytes


def test_figure_rejects_table_without_detections(tmp_path):
    cfg = shipped_config()
    path = tmp_path / "det.parquet"
    io.write_table(path, {"halo_id": np.arange(3)}, {"halo_id": ""})
    with pytest.raises(io.InputFileError, match="lacks columns"):
        run_completeness_redshift(
            detections=path,
            positive=cfg["cutouts"]["positive"],
            redshift_bin=cfg["evaluation"]["halos"]["redshift_bin"],
            interval=0.68,
            stages=cfg["sky"]["stages"],
            stage="dust",
            png=tmp_path / "a.png",
            pdf=tmp_path / "a.pdf",
        )
    assert not (tmp_path / "a.png").exists()
