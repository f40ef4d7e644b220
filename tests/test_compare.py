"""The compare target: setups side by side, from the tables each setup's run wrote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.evaluation.comparison import LADDER_COLUMNS, TABLE1_COLUMNS, run_compare_table1
from skyhunt.figures.comparison import run_compare_noise_ladder
from tests.conftest import small_config, snakemake, write_config


def fake_setup(root, name, f1, stages=("cmb_tsz", "dust")):
    """A results_dir with the two tables the compare rules read, F1 = ``f1`` everywhere."""
    tables = root / name / "tables"
    tables.mkdir(parents=True)
    methods = ["mf", "cnn", "and", "prod", "learned"]
    t1 = pd.DataFrame({c: [0.5] * len(methods) for c in TABLE1_COLUMNS})
    t1["method"], t1["threshold"] = methods, "SNR >= 5"
    t1["f1"], t1["f1_lo"], t1["f1_hi"] = f1, f1 - 0.05, f1 + 0.05
    t1.to_csv(tables / "table1.csv", index=False)
    rows = [
        {c: 0.5 for c in LADDER_COLUMNS} | {"stage": s, "method": m} for s in stages for m in ("cnn", "mf")
    ]
    ladder = pd.DataFrame(rows)
    ladder["test_f1"] = f1
    ladder.to_csv(tables / "noise_components.csv", index=False)
    return root / name


def test_compare_puts_every_setup_side_by_side(tmp_path):
    a, b = fake_setup(tmp_path, "a", 0.61), fake_setup(tmp_path, "b", 0.42)
    tables = [a / "tables/table1.csv", b / "tables/table1.csv"]
    run_compare_table1(setups=["paper", "spt3g"], tables=tables, csv=tmp_path / "t.csv", md=tmp_path / "t.md")
    out = pd.read_csv(tmp_path / "t.csv")
    assert list(out["setup"].unique()) == ["paper", "spt3g"]
    np.testing.assert_allclose(out.loc[out.setup == "spt3g", "f1"], 0.42)
    md = (tmp_path / "t.md").read_text()
    assert "| method | paper | spt3g |" in md and "| MF | 0.610 [0.560, 0.660] | 0.420 [0.370, 0.470] |" in md
    ladders = [a / "tables/noise_components.csv", b / "tables/noise_components.csv"]
    run_compare_noise_ladder(
        setups=["paper", "spt3g"], tables=ladders, png=tmp_path / "f.png", pdf=tmp_path / "f.pdf"
    )
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_compare_fails_naming_a_bad_table(tmp_path):
    a = fake_setup(tmp_path, "a", 0.6)
    pd.read_csv(a / "tables/table1.csv").drop(columns="f1_lo").to_csv(a / "tables/table1.csv", index=False)
    with pytest.raises(io.InputFileError, match=r"table1\.csv lacks columns \['f1_lo'\]"):
        run_compare_table1(
            setups=["a"], tables=[a / "tables/table1.csv"], csv=tmp_path / "t.csv", md=tmp_path / "t.md"
        )
    assert not (tmp_path / "t.csv").exists()


def test_compare_reads_the_runs_that_exist(tmp_path):
    cfg = small_config()
    fake_setup(tmp_path, "results/other", 0.5)
    cfg["compare"] = {
        "setups": [
            {"name": "here", "results_dir": "results"},
            {"name": "other", "results_dir": "results/other"},
            {"name": "missing", "results_dir": "results/missing"},
        ]
    }
    write_config(tmp_path, cfg)
    plan = snakemake(tmp_path, "compare_table1", "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    job = plan.stdout[plan.stdout.index("rule compare_table1:") :]
    inputs = job[job.index("input:") : job.index("output:")]
    assert "results/tables/table1.csv" in inputs, "this configuration's own run is made"
    assert "results/other/tables/table1.csv" in inputs, "an existing run is read"
    assert "results/missing" not in job, "a setup without a run is left out"
