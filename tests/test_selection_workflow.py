"""The selection function's outputs in the shared tiny run (tests/conftest.py, two_runs)."""

from __future__ import annotations

import json

import healpy as hp
import numpy as np
import pytest

from skyhunt import io
from skyhunt.selection import pipeline
from skyhunt.selection.files import read_completeness, read_mass_limit
from skyhunt.selection.methods import CATALOGUE_METHODS, CUTOUT_METHODS, METHODS
from skyhunt.selection.pipeline import CLASSIFIED_UNITS, INJECTED_UNITS


@pytest.mark.slow
def test_selection_outputs_are_sane(two_runs):
    cfg, (a, _) = two_runs
    sel = cfg["selection"]
    out = a / "results" / "selection"
    tables = [
        io.read_checked_table(out / "injections" / f"batch_{b}.parquet", tuple(INJECTED_UNITS))
        for b in range(sel["batches"])
    ]
    assert sum(len(t) for t in tables) == sel["injections"] * sel["batches"]
    classified = [
        io.read_checked_table(out / "injections" / f"cutouts_{b}.parquet", tuple(CLASSIFIED_UNITS))
        for b in range(sel["batches"])
    ]
    for t, c in zip(tables, classified, strict=True):
        assert np.array_equal(t["injection_id"], c["injection_id"])
    n_scored = sum(int(np.sum(c["cutout_id"] >= 0)) for c in classified)
    assert 0 < n_scored < sel["injections"] * sel["batches"]  # the validation and test stripes' only
    grid = read_completeness(out / "main" / "completeness.fits")
    assert list(grid.methods) == list(METHODS)
    summary = json.loads((out / "main" / "summary.json").read_text())
    for method in METHODS:
        q = grid.methods[method]
        # every injection the method scores is on the grid
        want = n_scored if method in CUTOUT_METHODS else sel["injections"] * sel["batches"]
        assert q["N_INJECTED"].sum() == want, method
        assert np.all(q["N_RECOVERED"] <= q["N_INJECTED"]) and np.all(q["TRUTH_K"] <= q["TRUTH_N"])
        p = q["COMPLETENESS"][q["N_INJECTED"] > 0]
        assert np.all((p >= 0) & (p <= 1))
        s = summary[method]
        assert s["recovered"] == q["N_RECOVERED"].sum() and s["truth_halos"] == q["TRUTH_N"].sum()
    thresholds = json.loads((a / "results" / "ensembles" / "thresholds.json").read_text())
    assert summary["mf"]["threshold"] == pytest.approx(thresholds["methods"]["mf"]["threshold"])
    metrics = json.loads((a / "results" / "catalogues" / "metrics.json").read_text())
    for method in CATALOGUE_METHODS[1:]:
        levels = metrics["methods"][method]["n_at_purity"]["qualifying"]
        assert summary[method]["threshold"] == levels[min(levels, key=float)]["threshold"]
    for method, key in CUTOUT_METHODS.items():  # Table 1's thresholds
        want = 1.0 if key == "and" else thresholds["methods"][key]["threshold"]
        assert summary[method]["threshold"] == pytest.approx(want)
    table, header, methods = read_mass_limit(out / "main" / "mass_limit.fits")
    assert len(table) > 0 and header["ZREF"] == sel["mass_limit"]["z"]
    assert str(table["m500c_limit"].unit) == "solMass" and list(methods["method"]) == list(METHODS)
    limit_map = hp.read_map(out / "main" / "mass_limit_map.fits", dtype=np.float64)
    assert hp.get_nside(limit_map) == sel["mass_limit"]["nside"]
    assert not any((out / "injections").glob("scratch_*/*"))  # the temp maps and candidates are gone


@pytest.mark.slow
def test_inject_classify_on_the_original_maps_gives_the_main_runs_scores(two_runs, tmp_path):
    """run_inject_classify on the maps *without* the injections: each scored injection's cutout is
    cut, scored and calibrated as the main run's (its CNN probability is score_cnn's, its cutout
    the index's, on the validation and test stripes only)."""
    cfg, (a, _) = two_runs
    res = a / "results"
    stage = cfg["evaluation"]["stage"] or cfg["cnn"]["stages"][-1]
    cc = cfg["cutouts"]
    out = tmp_path / "classified.parquet"
    pipeline.run_inject_classify(
        nside=cfg["sky"]["nside"],
        cutouts={
            k: cc[k] for k in ("size_arcmin", "npix", "stride_arcmin", "central_arcmin", "interpolation")
        },
        accelerator="cpu",
        batch_size=7,
        matching=cfg["mf"]["matching"],
        injected=[res / "sky" / "observed" / f"{stage}_{b['name']}.fits" for b in cfg["sky"]["bands"]],
        candidates=res / "mf" / stage / "candidates.parquet",
        mf_injections=res / "selection" / "injections" / "batch_0.parquet",
        halos=res / "sky" / "halos.parquet",
        index=res / "cutouts" / "index.parquet",
        model=res / "cnn" / stage / "model.ckpt",
        cnn_scores=res / "cnn" / stage / "scores.parquet",
        ensemble_scores=res / "ensembles" / "scores.parquet",
        thresholds=res / "ensembles" / "thresholds.json",
        classified=out,
    )
    got = io.read_checked_table(out, tuple(CLASSIFIED_UNITS))
    scored = got[got["cutout_id"] >= 0]
    assert len(scored) > 0
    main = io.read_checked_table(
        res / "cnn" / stage / "scores.parquet", ("cutout_id", "split", "probability")
    )
    main = main.set_index("cutout_id").loc[scored["cutout_id"]]
    assert set(main["split"]) <= {"validation", "test"}
    np.testing.assert_allclose(scored["score_cnn"], main["probability"], rtol=1e-5, atol=1e-7)
