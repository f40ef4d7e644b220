"""The sky workflow end to end through Snakemake on a tiny patch, and config errors."""

from __future__ import annotations

import numpy as np
import pytest

from skyhunt import io
from skyhunt.sky import pipeline

from .conftest import small_config, snakemake, write_config

#: Every figure of the report (DeepSZ section 3), each a rule of the same name.
FIGURES = (
    "cutout_examples",
    "training_history",
    "f1_threshold",
    "ensemble_prod",
    "ensemble_and",
    "rgb_examples",
    "noise_components",
    "edge_effect",
    "completeness_mass",
    "completeness_redshift",
    "selection_function",
    "mass_bias",
    "completeness_purity",
    "catalogue_map",
    "injection_completeness",
    "mass_limit_map",
)


@pytest.mark.slow
def test_console_shows_progress_and_job_logs_hold_the_rest(two_runs):
    """Snakemake's progress on the console; skyhunt's log lines and the CNN's progress bars
    (cnn.progress_bar is on in this run) in each job's log file."""
    _, (a, _) = two_runs
    console = (a / "console.log").read_text()
    assert "steps (100%) done" in console
    assert "it/s]" not in console and " INFO: " not in console
    train_log = (a / "results" / "logs" / "cnn" / "train_dust.log").read_text()
    assert "it/s]" in train_log and "skyhunt.cnn INFO: chose r = " in train_log


@pytest.mark.slow
def test_workflow_outputs_are_byte_identical(two_runs):
    cfg, (a, b) = two_runs
    # checkpoints/ is the trainer's scratch space (it records absolute paths), not an output; the
    # report fixture may already have written results/report.html in run a only; job logs and
    # benchmark tables hold times
    outputs = sorted(
        p.relative_to(a)
        for p in (a / "results").rglob("*")
        if p.is_file()
        and not {"checkpoints", "logs", "benchmarks"} & set(p.relative_to(a).parts)
        and p.name != "report.html"
    )
    n_maps = len(cfg["sky"]["bands"]) * (len(cfg["sky"]["stages"]) + 7)  # 5 stages, 6 components + noise
    assert len([p for p in outputs if p.suffix == ".fits" and p.parts[1] == "sky"]) == n_maps
    catalogues = {p.name for p in outputs if p.parts[1] == "catalogues" and p.suffix == ".fits"}
    assert catalogues == {
        "mf.fits",
        "detector.fits",
        "ens_prod.fits",
        "ens_learned.fits",
        "vetted_cnn.fits",
        "vetted_classical.fits",
    }
    assert {p.name for p in outputs if p.parent.name == "cutouts"} == {
        "index.parquet",
        *(f"{s['name']}.npy" for s in cfg["sky"]["stages"]),
    }
    assert {p.name for p in outputs if p.parent.name == "dust" and "cnn" in p.parts} == {
        "model.ckpt",
        "history.csv",
        "training.json",
        "scores.parquet",
    }
    assert {str(p) for p in outputs if p.parts[1] == "mf"} == {
        f"results/mf/{s['name']}/{f}"
        for s in cfg["sky"]["stages"]
        for f in ("candidates.parquet", "point_sources.parquet", "cutout_snr.parquet")
    }
    assert {p.name for p in outputs if p.parent.name == "figures"} == {
        f"{name}.{ext}" for name in FIGURES for ext in ("png", "pdf")
    }
    assert {p.name for p in outputs if p.parent.name == "tables"} >= {"table1.csv", "table1.md"}
    for rel in outputs:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs between identical runs"


@pytest.mark.slow
def test_report_and_one_figure_by_name(two_runs, report):
    _, (a, _) = two_runs
    html = report.read_text()
    for name in FIGURES:
        assert f"{name}.png" in html, f"{name} is not in the report"
    assert "table1.csv" in html
    (a / "results" / "figures" / "f1_threshold.png").unlink()
    proc = snakemake(a, "f1_threshold")
    assert proc.returncode == 0, proc.stderr[-4000:]
    ran = {
        line.split()[-1].rstrip(":")
        for line in proc.stderr.splitlines()
        if line.startswith(("rule ", "localrule "))
    }
    assert ran == {"f1_threshold"}
    assert (a / "results" / "figures" / "f1_threshold.png").is_file()


@pytest.mark.slow
def test_stages_are_cumulative_sums(two_runs):
    cfg, (a, _) = two_runs
    sky = a / "results" / "sky"
    for band in [b["name"] for b in cfg["sky"]["bands"]]:
        _, cmb_tsz, _ = io.read_partial_map(sky / "observed" / f"cmb_tsz_{band}.fits")
        _, ksz_stage, _ = io.read_partial_map(sky / "observed" / f"ksz_{band}.fits")
        _, ksz, _ = io.read_partial_map(sky / "components" / f"ksz_{band}.fits")
        np.testing.assert_allclose(ksz_stage - cmb_tsz, ksz, atol=2e-3)
        _, noise, hdr = io.read_partial_map(sky / "components" / f"noise_{band}.fits")
        assert hdr["NSIDE"] == cfg["sky"]["nside"] and hdr["BAND"] == band
    halos, units = io.read_table(sky / "halos.parquet")
    assert units["m_vir"] == "M_sun" and units["theta500_arcmin"] == "arcmin"
    sources, s_units = io.read_table(sky / "sources.parquet")
    assert s_units["flux_148_mjy"] == "mJy"


def noise_map(sky: dict, seed: int, path) -> None:
    """The 148 GHz noise map of the sky config."""
    (band,) = [b for b in sky["bands"] if b["name"] == "148"]
    pipeline.run_noise_map(footprint=sky["footprint"], nside=sky["nside"], band=band, seed=seed, noise=path)


def test_different_seed_gives_different_outputs(tmp_path):
    cfg = small_config()
    sky = cfg["sky"]
    for seed in (1, 2):
        pipeline.run_halos(
            footprint=sky["footprint"],
            margin_deg=sky["margin_deg"],
            cosmology=sky["cosmology"],
            halo_model=sky["halos"],
            seed=seed,
            halos=tmp_path / f"halos_{seed}.parquet",
        )
        noise_map(sky, seed, tmp_path / f"noise_{seed}.fits")
    assert (tmp_path / "halos_1.parquet").read_bytes() != (tmp_path / "halos_2.parquet").read_bytes()
    assert (tmp_path / "noise_1.fits").read_bytes() != (tmp_path / "noise_2.fits").read_bytes()
    noise_map(sky, 1, tmp_path / "noise_again.fits")
    assert (tmp_path / "noise_1.fits").read_bytes() == (tmp_path / "noise_again.fits").read_bytes()


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["sky"]["footprint"].update(ra_min="zero"), "sky.footprint.ra_min"),
        (lambda c: c["sky"].update(nside=1000), "sky.nside"),
        (lambda c: c["sky"].update(footprnt={}), "sky.footprnt"),
        (lambda c: c["sky"]["stages"][1]["add"].append("lensing"), "sky.stages[1].add"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, edit, key):
    cfg = small_config()
    edit(cfg)
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "sky")
    assert proc.returncode != 0
    assert f"config key '{key}" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()
    assert "Traceback" not in proc.stderr


def test_corrupt_input_map_fails_with_file_name(tmp_path):
    sky = small_config()["sky"]
    paths = [tmp_path / "cmb_148.fits", tmp_path / "noise_148.fits"]
    noise_map(sky, 1, paths[1])
    paths[0].write_bytes(b"SIMPLE  =                    T" + b" " * 100)
    with pytest.raises(io.InputFileError, match="cmb_148.fits"):
        pipeline.run_observed_map(
            nside=sky["nside"],
            band=next(b for b in sky["bands"] if b["name"] == "148"),
            stage="cmb_tsz",
            maps=paths,
            observed=tmp_path / "out.fits",
        )
    assert not (tmp_path / "out.fits").exists()
