"""The realistic instrument end to end: the tiny workflow with every issue-14 feature on,
its reproducibility, and the compare target with the DeepSZ setup beside it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from skyhunt import io

from .conftest import snakemake, write_config

#: Sky and MF rules whose outputs a forced rerun must reproduce byte for byte.
RERUN = ("cmb_map", "sz_maps", "source_maps", "dust_map", "depth_map", "noise_map", "scan_transfer")


@pytest.mark.slow
def test_realistic_run_makes_its_instrument_products_and_uses_no_truth_catalogue(realistic_run):
    cfg, d = realistic_run
    res = d / "results"
    for band in cfg["sky"]["bands"]:
        pixels, ivar, header = io.read_partial_map(res / "sky" / "depth" / f"ivar_{band['name']}.fits")
        assert ivar.min() > 0 and header["COMPNT"] == "ivar"
    assert (res / "mf" / "scan_transfer.fits").is_file()
    table1 = pd.read_csv(res / "tables" / "table1.csv")
    assert list(table1["method"]) == ["mf", "cnn", "detector", "and", "prod", "learned"]
    found = io.read_table(res / "mf" / "dust" / "point_sources.parquet")[0]
    assert len(found) and found["snr"].min() >= cfg["mf"]["point_sources"]["detect"]["snr_min"]
    log = (res / "logs" / "mf" / "matched_filter_dust.log").read_text()
    assert "sources.parquet" not in log


@pytest.mark.slow
def test_realistic_sky_and_mf_rerun_to_the_same_bytes(realistic_run, tmp_path):
    """Every sky rule and the MF of the full sky (the last stage), forced to run again in a copy,
    remake their files byte for byte."""
    cfg, d = realistic_run
    work = tmp_path / "rerun"
    shutil.copytree(d, work)
    started = time.time()
    stage = cfg["sky"]["stages"][-1]["name"]
    proc = snakemake(work, f"results/mf/{stage}/candidates.parquet", "--forcerun", *RERUN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    remade = [
        p.relative_to(work)
        for p in (work / "results").rglob("*")
        if p.suffix in (".fits", ".parquet") and p.stat().st_mtime >= started
    ]
    assert {"sky", "mf"} >= {p.parts[1] for p in remade}
    assert {Path("results/mf/scan_transfer.fits"), Path(f"results/mf/{stage}/candidates.parquet")} <= set(
        remade
    )
    assert sum(p.parts[:3] == ("results", "sky", "depth") for p in remade) == len(cfg["sky"]["bands"])
    for p in remade:
        assert (work / p).read_bytes() == (d / p).read_bytes(), f"{p} differs"


@pytest.mark.slow
def test_compare_puts_the_realistic_setup_beside_deepsz(two_runs, realistic_run, tmp_path):
    _, (a, _) = two_runs
    cfg, d = realistic_run
    work = tmp_path / "compare"
    shutil.copytree(d, work)
    cfg = dict(
        cfg,
        compare={
            "setups": [
                {"name": "deepsz", "results_dir": str(a / "results")},
                {"name": "spt3g", "results_dir": "results"},
            ]
        },
    )
    write_config(work, cfg)
    proc = snakemake(work, "compare")
    assert proc.returncode == 0, proc.stderr[-3000:]
    both = pd.read_csv(work / "results" / "compare" / "table1.csv")
    assert list(both["setup"].unique()) == ["deepsz", "spt3g"]
    for setup, run in (("deepsz", a), ("spt3g", d)):
        own = pd.read_csv(run / "results" / "tables" / "table1.csv")
        assert list(both.loc[both.setup == setup, "f1"]) == pytest.approx(list(own["f1"]))
    assert (work / "results" / "compare" / "noise_ladder.png").stat().st_size > 10_000
