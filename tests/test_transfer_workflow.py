"""`snakemake transfer` end to end on the session's tiny runs: source = run a (the tiny workflow),
target = the realistic run (beams, red noise, scan filter, sources found in the maps)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.transfer.pipeline import run_transfer_metrics
from skyhunt.transfer.readers import read_transfer_metrics

from .conftest import TRANSFER_N, TRANSFER_SEEDS, console_log, wait_for

pytestmark = pytest.mark.slow

N_LABELLED, SEEDS = TRANSFER_N, TRANSFER_SEEDS


@pytest.fixture(scope="module")
def transfer_run(tiny_runs, two_runs, realistic_run):
    """A copy of run a (its config gains the transfer section) with `snakemake transfer` run on
    the realistic run (``conftest.transfer_prepare``, started by ``tiny_runs`` once both are
    done); returns (run directory, target results directory, dry-run output)."""
    work = wait_for(tiny_runs["transfer"])
    _, realistic = realistic_run
    return work, realistic / "results", console_log(work, 0).read_text()


def test_zero_shot_rule_has_no_target_label_input(transfer_run):
    _, target, dry = transfer_run
    (block,) = re.findall(r"rule transfer_zero_shot:\n    input: ([^\n]*)", dry)
    inputs = sorted(block.split(", "))
    assert inputs == sorted(["results/cnn/dust/model.ckpt", str(target / "cutouts" / "dust.npy")])


def test_every_method_is_measured_on_the_target_test_stripe(transfer_run):
    run, _, _ = transfer_run
    metrics = read_transfer_metrics(run / "results" / "transfer" / "realistic" / "metrics.parquet")
    counts = metrics["method"].value_counts().to_dict()
    assert counts == {"zero_shot": 1, "fine_tune": SEEDS, "scratch": SEEDS, "mf": 1, "mf_maps": 1}
    tuned = metrics[metrics["method"] == "fine_tune"]
    assert (tuned["n_positives"] == N_LABELLED).all() and list(tuned["seed"]) == list(range(SEEDS))
    assert metrics["f1"].between(0, 1).all() and metrics["auc"].between(0, 1).all()
    test_positives = metrics["tp"] + metrics["fn"]
    assert test_positives.nunique() == 1 and test_positives.iloc[0] > 0
    table = (run / "results" / "tables" / "transfer.md").read_text()
    assert "| realistic | fine_tune | 3 | 3 |" in table
    for name in ("transfer_f1", "transfer_confusion"):
        assert (run / "results" / "figures" / f"{name}.png").stat().st_size > 0


def test_target_labels_outside_the_test_stripe_never_enter_the_zero_shot_number(transfer_run, tmp_path):
    """Scrambling the target's training and validation labels leaves the zero-shot row (and the
    MF's at the source threshold) as it was."""
    run, target, _ = transfer_run
    out = run / "results" / "transfer" / "realistic"
    index, _ = io.read_table(target / "cutouts" / "index.parquet")
    scrambled = index.copy()
    outside = (index["split"] != "test").to_numpy()
    rng = np.random.default_rng(0)
    scrambled.loc[outside, "label"] = rng.permutation(index.loc[outside, "label"].to_numpy())
    assert (scrambled["label"] != index["label"]).any()
    io.write_table(tmp_path / "index.parquet", {c: scrambled[c].to_numpy() for c in scrambled}, {})
    paths = {
        m: [out / m / f"n{N_LABELLED}_s{r}.parquet" for r in range(SEEDS)] for m in ("fine_tune", "scratch")
    }
    run_transfer_metrics(
        pair="realistic",
        n_labelled=[str(N_LABELLED)],
        seeds=SEEDS,
        index=tmp_path / "index.parquet",
        zero_shot=out / "zero_shot.parquet",
        fine_tune=paths["fine_tune"],
        scratch=paths["scratch"],
        mf=target / "mf" / "dust" / "cutout_snr.parquet",
        source_thresholds=run / "results" / "ensembles" / "thresholds.json",
        mf_maps=out / "mf_maps" / "cutout_snr.parquet",
        metrics=tmp_path / "metrics.parquet",
    )
    before = read_transfer_metrics(out / "metrics.parquet").set_index("method")
    after = read_transfer_metrics(tmp_path / "metrics.parquet").set_index("method")
    for method in ("zero_shot", "mf"):
        pd.testing.assert_series_equal(before.loc[method], after.loc[method])
