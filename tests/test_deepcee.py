"""The Deep-CEE task (issue 18): the physical match radius, matching, P/R/F1, field geometry,
reproducible fields, and ``snakemake deepcee`` on the session's tiny run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.cutouts.grid import ARCMIN, tan_deproject
from skyhunt.deepcee import metrics
from skyhunt.deepcee.fields import truth_on_field
from skyhunt.deepcee.pipeline import render_config, run_deepcee_fields
from skyhunt.optical.render import RENDER_COLUMNS, render_cutout

from .conftest import REPO, wait_for

COSMO = {"H0": 70.0, "Om0": 0.3, "Ob0": 0.045, "sigma8": 0.8, "ns": 0.96}


@pytest.fixture(scope="module")
def cfg():
    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def test_match_radius_is_100_kpc_at_the_angular_diameter_distance():
    # astropy's D_A of the same flat cosmology (massless neutrinos, CMB radiation as colossus's relspecies)
    ref = FlatLambdaCDM(H0=70.0, Om0=0.3, Tcmb0=2.7255, Neff=3.046, m_nu=0 * u.eV, Ob0=0.045)
    for z in (0.1, 0.3, 0.8):
        expected = (100 * u.kpc / ref.angular_diameter_distance(z)).to_value(
            u.dimensionless_unscaled
        ) * 206264.806
        assert metrics.match_radius_arcsec(z, COSMO, 100.0) == pytest.approx(expected, rel=2e-3)
    # 100 kpc subtends 22.45" at z = 0.3 here (proper distance; comoving would give 17.3")
    assert metrics.match_radius_arcsec(0.3, COSMO, 100.0) == pytest.approx(22.45, abs=0.02)


def _field_with(ra, dec, z, field_id=0):
    return pd.DataFrame({"field_id": [field_id], "ra": [ra], "dec": [dec], "z": [z]})


def test_a_detection_matches_on_the_right_side_of_100_kpc():
    z, ra0, dec0 = 0.3, 150.0, 2.0
    radius = metrics.match_radius_arcsec(z, COSMO, 100.0)
    truth = _field_with(ra0, dec0, z)
    for factor, matched in ((0.98, 1), (1.02, 0)):
        ra, dec = tan_deproject(
            np.array([ra0]), np.array([dec0]), np.zeros(1), np.array([factor * radius / 60.0]) * ARCMIN
        )
        det = pd.DataFrame({"field_id": [0], "ra": ra, "dec": dec, "prob": [0.9]})
        tp, fp, fn, pairs = metrics.counts_at(det, truth, 0.5, COSMO, 100.0)
        assert (tp, fp, fn) == (matched, 1 - matched, 1 - matched)
        if matched:
            assert pairs["distance_kpc"].iloc[0] == pytest.approx(factor * 100.0, rel=1e-6)


def test_precision_recall_f1_on_a_toy_set_equal_hand_counts():
    z = 0.2
    step = metrics.match_radius_arcsec(z, COSMO, 100.0) / 3600.0  # deg: one match radius in Dec
    truth = pd.DataFrame(
        {"field_id": [0, 0, 1], "ra": [10.0, 10.0, 20.0], "dec": [0.0, 10 * step, 0.0], "z": [z, z, z]}
    )
    det = pd.DataFrame(
        {
            "field_id": [0, 0, 0, 1, 2],
            "ra": [10.0, 10.0, 10.0, 20.0, 30.0],
            # on truth 0; a second detection on truth 0 (only one may match); on truth 1 at 0.5 radius;
            # 2 radii from truth 2 (a miss); a random field
            "dec": [0.0, 0.1 * step, 10.5 * step, 2 * step, 0.0],
            "prob": [0.95, 0.75, 0.35, 0.85, 0.15],
        }
    )
    table = metrics.threshold_table(det, truth, COSMO, 100.0).set_index("threshold")
    # t = 0.1: 5 detections, 2 matched (truth 0 by the 0.95 one, truth 1), 1 truth missed
    assert tuple(table.loc[0.1, ["tp", "fp", "fn"]]) == (2, 3, 1)
    assert table.loc[0.1, "precision"] == pytest.approx(2 / 5)
    assert table.loc[0.1, "recall"] == pytest.approx(2 / 3)
    assert table.loc[0.1, "f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    # t = 0.5: 0.95, 0.75 (unmatched: truth 0 taken), 0.85 (miss): TP 1, FP 2, FN 2
    assert tuple(table.loc[0.5, ["tp", "fp", "fn"]]) == (1, 2, 2)
    assert table.loc[0.5, "f1"] == pytest.approx(2 * (1 / 3) * (1 / 3) / (2 / 3))
    # t = 0.9: only 0.95 (TP); t = 1.0: nothing, every ratio 0 (Deep-CEE's 100 % row)
    assert tuple(table.loc[0.9, ["tp", "fp", "fn", "precision"]]) == (1, 0, 2, 1.0)
    assert tuple(table.loc[1.0, ["tp", "fp", "fn", "precision", "recall", "f1"]]) == (0, 0, 3, 0, 0, 0)
    assert list(table.index) == pytest.approx(list(np.linspace(0, 1, 11)))


def _one_star(ra, dec) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ra": [ra],
            "dec": [dec],
            "kind": ["star"],
            "mag_g": [15.0],
            "mag_r": [15.0],
            "mag_i": [15.0],
            "size_arcsec": [0.0],
            "sersic_n": [1.0],
            "axis_ratio": [1.0],
            "position_angle_deg": [0.0],
        }
    )[list(RENDER_COLUMNS)]


def test_a_cluster_lands_on_its_pixel_north_up_east_left(cfg):
    fields = {**cfg["deepcee"]["fields"], "npix": 40}
    render = render_config({k: v for k, v in cfg["optical"].items() if k != "galaxies"}, fields)
    ra0, dec0 = 150.0, 2.0
    # the halo 21" east and 13" north of the field centre: pixel centre (9, 26) of 40 x 2"
    ra, dec = tan_deproject(
        np.array([ra0]), np.array([dec0]), np.array([21.0 / 60]) * ARCMIN, np.array([13.0 / 60]) * ARCMIN
    )
    halos = pd.DataFrame({"halo_id": [7], "ra": ra, "dec": dec, "z": [0.2], "m500c": [2e14]})
    on = truth_on_field(halos, ra0, dec0, 40, fields["pixel_scale_arcsec"])
    assert len(on) == 1
    c = (40 - 1) / 2.0
    scale = fields["pixel_scale_arcsec"]
    # FITS order: x to the west (east is lower x, left), y to the north
    assert on["x"].iloc[0] == pytest.approx(c - 21.0 / scale, abs=0.02)
    assert on["y"].iloc[0] == pytest.approx(c + 13.0 / scale, abs=0.02)
    images, _ = render_cutout(_one_star(ra[0], dec[0]), ra0, dec0, render, np.random.default_rng(0))
    iy, ix = np.unravel_index(np.argmax(images["r"]), images["r"].shape)
    assert (iy, ix) == (round(on["y"].iloc[0]), round(on["x"].iloc[0]))
    # a halo off the field is not its truth
    assert truth_on_field(halos, ra0 + 0.05, dec0, 40, scale).empty


def _tiny_inputs(tmp_path, cfg):
    rng = np.random.default_rng(3)
    n = 6
    halos = {
        "halo_id": np.arange(n, dtype=np.int64),
        "ra": rng.uniform(10.6, 11.8, n),
        "dec": rng.uniform(-0.8, 0.8, n),
        "z": np.full(n, 0.2),
        "m500c": np.full(n, 2e14),
    }
    io.write_table(
        tmp_path / "halos.parquet",
        halos,
        {"halo_id": "", "ra": "deg", "dec": "deg", "z": "", "m500c": "M_sun"},
    )
    stars = pd.concat(
        [_one_star(r, d) for r, d in zip(halos["ra"], halos["dec"], strict=True)], ignore_index=True
    )
    units = {c: "" for c in RENDER_COLUMNS}
    io.write_table(tmp_path / "galaxies.parquet", {c: stars[c].to_numpy() for c in RENDER_COLUMNS}, units)


def test_same_config_and_seed_give_identical_field_bytes(tmp_path, cfg):
    _tiny_inputs(tmp_path, cfg)
    fields = {
        **cfg["deepcee"]["fields"],
        "npix": 24,
        "offset_arcmin": 0.3,
        "cluster_fields": {"train": 3, "validation": 0, "test": 0},
        "random_fields": {"train": 2, "validation": 0, "test": 0},
    }
    outputs = []
    for name in ("a", "b"):
        out = {
            k: tmp_path / name / f"{k}.{ext}"
            for k, ext in (("images", "npy"), ("index", "parquet"), ("truth", "parquet"))
        }
        run_deepcee_fields(
            split="train",
            fields=fields,
            clusters=cfg["deepcee"]["clusters"],
            optical={k: v for k, v in cfg["optical"].items() if k != "galaxies"},
            footprint={"ra_min": 10.0, "ra_max": 12.0, "dec_min": -1.0, "dec_max": 1.0},
            splits=cfg["cutouts"]["splits"],
            seed=11,
            halos=tmp_path / "halos.parquet",
            galaxies=tmp_path / "galaxies.parquet",
            **out,
        )
        outputs.append(out)
    for k in outputs[0]:
        assert outputs[0][k].read_bytes() == outputs[1][k].read_bytes(), k
    index = pd.read_parquet(outputs[0]["index"])
    assert list(index["kind"]) == ["cluster"] * 3 + ["random"] * 2
    truth = pd.read_parquet(outputs[0]["truth"])
    # every cluster field holds its target, 1.5' at most from the centre in each axis
    targets = truth.merge(index, on="field_id", suffixes=("", "_field"))
    targets = targets[targets["halo_id"] == targets["target_halo_id"]]
    assert len(targets) == 3
    c = (24 - 1) / 2.0
    limit = fields["offset_arcmin"] * 60 / fields["pixel_scale_arcsec"] + 0.1
    assert np.all(np.abs(targets[["x", "y"]].to_numpy() - c) <= limit)


@pytest.fixture(scope="module")
def deepcee_run(tiny_runs, two_runs):
    """``snakemake deepcee`` on a copy of run a's sky (halos and galaxies), tiny fields, a few
    steps (``conftest.deepcee_prepare``, started by ``tiny_runs`` once run a is done)."""
    work = wait_for(tiny_runs["deepcee"])
    return yaml.safe_load((work / "config.yaml").read_text()), work / "results"


def test_snakemake_deepcee_writes_the_tables_and_figures(deepcee_run):
    cfg, results = deepcee_run
    table = pd.read_csv(results / "tables" / "deepcee.csv")
    assert list(table["threshold"]) == pytest.approx(list(np.linspace(0, 1, 11)))
    n_truth = len(pd.read_parquet(results / "deepcee" / "truth_test.parquet"))
    assert (table["tp"] + table["fn"] == n_truth).all()
    assert (np.diff(table["tp"] + table["fp"]) <= 0).all()  # fewer detections at higher thresholds
    summary = json.loads((results / "deepcee" / "summary.json").read_text())
    assert summary["f1"] == pytest.approx(table["f1"].max(), abs=1e-6)  # the CSV has 6 decimals
    assert "| 100 |" in (results / "tables" / "deepcee.md").read_text()
    for name in ("deepcee_prf1", "deepcee_offsets"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 0
    index = pd.read_parquet(results / "deepcee" / "fields_test.parquet")
    assert set(index["split"]) == {"test"}
