"""The selection function's outputs in the shared tiny run (tests/conftest.py, two_runs)."""

from __future__ import annotations

import json

import healpy as hp
import numpy as np
import pytest

from skyhunt import io
from skyhunt.selection.files import read_completeness, read_mass_limit
from skyhunt.selection.pipeline import INJECTED_UNITS, METHODS


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
    grid = read_completeness(out / "main" / "completeness.fits")
    assert list(grid.methods) == list(METHODS)
    summary = json.loads((out / "main" / "summary.json").read_text())
    for method in METHODS:
        q = grid.methods[method]
        assert q["N_INJECTED"].sum() == sel["injections"] * sel["batches"]  # every injection on the grid
        assert np.all(q["N_RECOVERED"] <= q["N_INJECTED"]) and np.all(q["TRUTH_K"] <= q["TRUTH_N"])
        p = q["COMPLETENESS"][q["N_INJECTED"] > 0]
        assert np.all((p >= 0) & (p <= 1))
        s = summary[method]
        assert s["recovered"] == q["N_RECOVERED"].sum() and s["truth_halos"] == q["TRUTH_N"].sum()
    thresholds = json.loads((a / "results" / "ensembles" / "thresholds.json").read_text())
    assert summary["mf"]["threshold"] == pytest.approx(thresholds["methods"]["mf"]["threshold"])
    metrics = json.loads((a / "results" / "catalogues" / "metrics.json").read_text())
    for method in METHODS[1:]:
        levels = metrics["methods"][method]["n_at_purity"]["qualifying"]
        assert summary[method]["threshold"] == levels[min(levels, key=float)]["threshold"]
    table, header, methods = read_mass_limit(out / "main" / "mass_limit.fits")
    assert len(table) > 0 and header["ZREF"] == sel["mass_limit"]["z"]
    assert str(table["m500c_limit"].unit) == "solMass" and list(methods["method"]) == list(METHODS)
    limit_map = hp.read_map(out / "main" / "mass_limit_map.fits", dtype=np.float64)
    assert hp.get_nside(limit_map) == sel["mass_limit"]["nside"]
    assert not any((out / "injections").glob("scratch_*/*"))  # the temp maps and candidates are gone
