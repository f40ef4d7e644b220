"""Tests of thresholds, ensembles and Table 1 (:mod:`skyhunt.evaluation`) and their figures."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.evaluation.ensembles import (
    METHODS,
    LogisticCombination,
    and_f1,
    best_and,
    choose_thresholds,
    predict,
    rank_percentile,
)
from skyhunt.evaluation.pipeline import run_ensembles, run_table1
from skyhunt.evaluation.table1 import bootstrap_metrics, confusion
from skyhunt.figures import noise
from skyhunt.figures import thresholds as figs
from skyhunt.metrics import f1_at

EVALUATION = {"learned": {"l2": 1.0}, "bootstrap": {"samples": 200, "interval": 0.68}}
#: The params of the ensembles and table1 rules for :data:`EVALUATION`.
ENSEMBLE_KEYS = {"l2": EVALUATION["learned"]["l2"], "stage": "dust"}
TABLE1_KEYS = {"bootstrap": EVALUATION["bootstrap"], "seed": 7}


def table1_into(scores, thresholds, directory) -> None:
    """run_table1 with :data:`TABLE1_KEYS`, writing ``t.csv`` and ``t.md`` into ``directory``."""
    run_table1(
        **TABLE1_KEYS, scores=scores, thresholds=thresholds, csv=directory / "t.csv", md=directory / "t.md"
    )


def synthetic_scores(rng, n, n_pos, separation=2.5):
    """Labels, a CNN-like probability and an MF-like SNR (0 for most negatives), partly independent."""
    labels = np.zeros(n, bool)
    labels[rng.choice(n, n_pos, replace=False)] = True
    signal = rng.normal(size=n) + separation * labels
    cnn = 1 / (1 + np.exp(-(signal + rng.normal(size=n) - 3)))
    snr = 3 + np.abs(4 * (signal + rng.normal(size=n)))
    mf = np.where(snr > 6, snr, 0.0)
    return labels, cnn, mf


def detector_scores(labels, seed=0):
    """A detector-like cutout score: a cluster-entry probability for most positives, 0 for most negatives."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.normal(0.4 + 0.4 * labels, 0.2), 0.0, 1.0)
    return np.where(rng.uniform(size=labels.size) < np.where(labels, 0.9, 0.15), p, 0.0)


def test_rank_percentile_is_the_paper_definition():
    x = np.array([3.0, 1.0, 3.0, 2.0, 0.0, 0.0])
    expected = np.array([np.mean(x <= v) for v in x])
    np.testing.assert_array_equal(rank_percentile(x), expected)


def test_and_f1_matches_brute_force():
    rng = np.random.default_rng(1)
    labels, cnn, mf = synthetic_scores(rng, 300, 20)
    mf_t, cnn_t = np.linspace(0, 20, 17), np.linspace(0, 1, 13)
    grid = and_f1(mf, cnn, labels, mf_t, cnn_t)
    for (i, a), (j, b) in itertools.product(enumerate(mf_t), enumerate(cnn_t)):
        assert grid[i, j] == pytest.approx(f1_at((mf >= a) & (cnn >= b), labels, 0.5))


def test_best_and_is_the_maximum_over_every_pair_of_scores():
    rng = np.random.default_rng(2)
    for _ in range(5):
        labels, cnn, mf = synthetic_scores(rng, 200, 15, separation=1.5)
        rule = best_and(mf, cnn, labels)
        brute = max(f1_at((mf >= a) & (cnn >= b), labels, 0.5) for a in np.unique(mf) for b in np.unique(cnn))
        assert rule.f1 == pytest.approx(brute)
        assert f1_at(rule(mf, cnn), labels, 0.5) == pytest.approx(brute)


def test_logistic_combination_recovers_generating_coefficients():
    rng = np.random.default_rng(3)
    q_cnn, q_mf = rng.uniform(size=(2, 200_000))
    truth = LogisticCombination(-4.0, (2.0, 1.0, 3.0))
    labels = rng.uniform(size=q_cnn.size) < truth(q_cnn, q_mf)
    fit = LogisticCombination.fit(q_cnn, q_mf, labels, l2=0.0)
    assert fit.intercept == pytest.approx(-4.0, abs=0.15)
    np.testing.assert_allclose(fit.weights, truth.weights, atol=0.3)


def test_thresholds_maximise_validation_f1_and_predict_applies_them():
    rng = np.random.default_rng(4)
    labels, cnn, mf = synthetic_scores(rng, 500, 30)
    det = detector_scores(labels)
    th = choose_thresholds(cnn, mf, labels, l2=1.0, detector=det)
    pred = predict(cnn, mf, th, detector=det)
    for m in METHODS:
        f1 = confusion(pred[f"{m}_pos"], labels)["f1"]
        assert f1 == pytest.approx(th[m]["validation_f1"])
    for m in ("mf", "cnn", "prod", "learned", "detector"):  # no other threshold on the same score does better
        score = pred[m]
        assert max(f1_at(score, labels, t) for t in np.unique(score)) == pytest.approx(th[m]["validation_f1"])
    np.testing.assert_allclose(pred["prod"], rank_percentile(cnn) * rank_percentile(mf))


def test_bootstrap_interval_covers_the_true_f1_at_its_nominal_rate():
    """Over many test sets drawn from one population, the 68 % interval covers the population F1 ~68 %."""
    rng = np.random.default_rng(5)
    n, n_pos = 400, 40
    labels, cnn, mf = synthetic_scores(rng, n, n_pos)
    th = choose_thresholds(cnn, mf, labels, l2=1.0, detector=detector_scores(labels))
    big = synthetic_scores(rng, 400_000, 40_000)
    truth = confusion(big[2] >= th["mf"]["threshold"], big[0])["f1"]
    covered = []
    for k in range(60):
        labels, cnn, mf = synthetic_scores(rng, n, n_pos)
        boot = bootstrap_metrics(
            cnn, mf, labels, th, samples=100, seed=k, detector=detector_scores(labels, k)
        )
        lo, hi = np.percentile(boot["mf", "f1"], [16, 84])
        covered.append(lo <= truth <= hi)
    assert 0.5 <= np.mean(covered) <= 0.86


@pytest.fixture
def stage_files(tmp_path):
    """A cutout index, CNN scores, MF SNRs and detector cutout scores of one synthetic stage."""
    rng = np.random.default_rng(6)
    n = 900
    labels, cnn, mf = synthetic_scores(rng, n, 60)
    split = np.array(["train", "validation", "test"])[np.arange(n) % 3]
    ids = np.arange(n, dtype=np.int64)
    paths = {k: tmp_path / f"{k}.parquet" for k in ("index", "cnn", "mf", "detector")}
    io.write_table(paths["index"], {"cutout_id": ids, "split": split, "label": labels.astype(np.int8)}, {})
    io.write_table(paths["cnn"], {"cutout_id": ids, "split": split, "probability": cnn}, {})
    io.write_table(paths["mf"], {"cutout_id": ids, "split": split, "snr": mf}, {})
    io.write_table(paths["detector"], {"cutout_id": ids, "split": split, "prob": detector_scores(labels)}, {})
    return paths


def test_ensembles_and_table1_end_to_end(tmp_path, stage_files):
    out = {k: tmp_path / "out" / k for k in ("scores.parquet", "thresholds.json", "t.csv", "t.md")}
    run_ensembles(
        **ENSEMBLE_KEYS, **stage_files, scores=out["scores.parquet"], thresholds=out["thresholds.json"]
    )
    scores, _ = io.read_table(out["scores.parquet"])
    assert set(scores["split"]) == {"validation", "test"} and len(scores) == 600
    thresholds = json.loads(out["thresholds.json"].read_text())
    assert thresholds["stage"] == "dust" and set(thresholds["methods"]) == set(METHODS)
    table1_into(out["scores.parquet"], out["thresholds.json"], out["t.csv"].parent)
    table = pd.read_csv(out["t.csv"])
    test = scores[scores["split"] == "test"]
    assert list(table["method"]) == list(METHODS)
    assert (table[["tp", "fp", "fn", "tn"]].sum(axis=1) == len(test)).all()
    assert (table["tp"] + table["fn"] == test["label"].sum()).all()
    for m, row in table.set_index("method").iterrows():
        assert row.f1 == pytest.approx(thresholds["methods"][m]["test_f1"])
        assert row.f1_lo <= row.f1 + 1e-9 and row.f1 - 1e-9 <= row.f1_hi
    md = out["t.md"].read_text()
    assert "| EnsemblePROD |" in md and "P(beats both)" in md
    # same inputs and seed: same bytes
    first = out["t.csv"].read_bytes()
    table1_into(out["scores.parquet"], out["thresholds.json"], out["t.csv"].parent)
    assert out["t.csv"].read_bytes() == first


def test_the_detector_row_leaves_every_other_method_unchanged(tmp_path, stage_files):
    """Table 1's MF, CNN and ensemble rows, gains and scores do not depend on the detector's scores."""
    outputs = []
    for k, factor in enumerate((1.0, 0.3)):
        table, _ = io.read_table(stage_files["detector"])
        io.write_table(stage_files["detector"], {**table, "prob": table["prob"].to_numpy() * factor}, {})
        out = tmp_path / str(k)
        run_ensembles(**ENSEMBLE_KEYS, **stage_files, scores=out / "s.parquet", thresholds=out / "t.json")
        table1_into(out / "s.parquet", out / "t.json", out)
        scores, _ = io.read_table(out / "s.parquet")
        outputs.append((pd.read_csv(out / "t.csv"), (out / "t.md").read_text(), scores))
    (a, md_a, s_a), (b, md_b, s_b) = outputs
    others = a["method"] != "detector"
    pd.testing.assert_frame_equal(a[others], b[others])
    assert a.loc[~others, "threshold"].item() != b.loc[~others, "threshold"].item()
    assert [x for x in md_a.splitlines() if "CNN detector" not in x] == [
        x for x in md_b.splitlines() if "CNN detector" not in x
    ]
    kept = [c for c in s_a.columns if "detector" not in c]
    pd.testing.assert_frame_equal(s_a[kept], s_b[kept])


def test_bootstrap_draws_of_the_other_methods_are_the_seeded_resamples_whatever_the_detector():
    """The MF's and CNN's draws are exactly those of default_rng(seed) resampling the test cutouts,
    as before the detector joined (its scores do not touch the random stream)."""
    rng = np.random.default_rng(8)
    labels, cnn, mf = synthetic_scores(rng, 300, 30)
    th = choose_thresholds(cnn, mf, labels, l2=1.0, detector=detector_scores(labels))
    boot = bootstrap_metrics(cnn, mf, labels, th, samples=30, seed=4, detector=detector_scores(labels, 1))
    draws = np.random.default_rng(4)
    for b in range(30):
        idx = draws.integers(0, labels.size, labels.size)
        for m, score in (("mf", mf), ("cnn", cnn)):
            f1 = confusion(score[idx] >= th[m]["threshold"], labels[idx])["f1"]
            assert boot[m, "f1"][b] == f1


def test_misaligned_scores_fail_naming_the_file(tmp_path, stage_files):
    table, _ = io.read_table(stage_files["mf"])
    io.write_table(stage_files["mf"], {c: table[c].to_numpy()[::-1] for c in table}, {})
    out = tmp_path / "out" / "scores.parquet"
    with pytest.raises(io.InputFileError, match="mf.parquet: its cutout_id column does not follow"):
        run_ensembles(**ENSEMBLE_KEYS, **stage_files, scores=out, thresholds=tmp_path / "out" / "t.json")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_index_without_split_fails_naming_the_file_and_column(tmp_path, stage_files):
    table, _ = io.read_table(stage_files["index"])
    io.write_table(stage_files["index"], {c: table[c].to_numpy() for c in table if c != "split"}, {})
    with pytest.raises(io.InputFileError, match=r"index\.parquet lacks columns \['split'\]"):
        run_ensembles(
            **ENSEMBLE_KEYS, **stage_files, scores=tmp_path / "s.parquet", thresholds=tmp_path / "t.json"
        )
    assert not (tmp_path / "s.parquet").exists()


def test_ensemble_scores_without_a_column_fail_naming_the_file(tmp_path, stage_files):
    out = tmp_path / "scores.parquet"
    run_ensembles(**ENSEMBLE_KEYS, **stage_files, scores=out, thresholds=tmp_path / "t.json")
    table, _ = io.read_table(out)
    io.write_table(out, {c: table[c].to_numpy() for c in table if c != "label"}, {})
    with pytest.raises(io.InputFileError, match=r"scores\.parquet lacks columns \['label'\]"):
        table1_into(out, tmp_path / "t.json", tmp_path)
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize(
    "name, column, value",
    [("cnn", "probability", np.nan), ("mf", "snr", np.inf), ("detector", "prob", np.nan)],
)
def test_non_finite_scores_fail_naming_the_file(tmp_path, stage_files, name, column, value):
    table, _ = io.read_table(stage_files[name])
    table.loc[[3, 700], column] = value
    io.write_table(stage_files[name], {c: table[c].to_numpy() for c in table}, {})
    out = tmp_path / "out" / "scores.parquet"
    message = rf"{name}.parquet: column {column} is NaN or infinite for 2 cutouts \(cutout_id 3, 700\)"
    with pytest.raises(io.InputFileError, match=message):
        run_ensembles(**ENSEMBLE_KEYS, **stage_files, scores=out, thresholds=tmp_path / "out" / "t.json")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_corrupt_thresholds_file_fails_naming_it(tmp_path, stage_files):
    out = tmp_path / "scores.parquet"
    run_ensembles(**ENSEMBLE_KEYS, **stage_files, scores=out, thresholds=tmp_path / "t.json")
    (tmp_path / "t.json").write_text('{"stage": "dust"}')
    with pytest.raises(io.InputFileError, match="t.json: not a thresholds file"):
        table1_into(out, tmp_path / "t.json", tmp_path)
    assert not (tmp_path / "t.csv").exists()


def test_threshold_figures_render(tmp_path, stage_files):
    from skyhunt.evaluation.pipeline import load_method_scores, read_ensembles

    scores_path, th_path = tmp_path / "s.parquet", tmp_path / "t.json"
    run_ensembles(**ENSEMBLE_KEYS, **stage_files, scores=scores_path, thresholds=th_path)
    scores, th = read_ensembles(scores_path, th_path)
    for name in ("f1_threshold", "ensemble_prod", "ensemble_and"):
        getattr(figs, f"plot_{name}")(scores, th, tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
    stage = load_method_scores(*stage_files.values())
    stages = {"a": stage, "b": stage.assign(cnn=stage["cnn"] ** 2)}
    metrics = noise.stage_metrics(stages)
    assert metrics["test_auc"].between(0.5, 1).all()
    noise.plot_noise_components(stages, metrics, {"a": "A", "b": "B"}, tmp_path / "n.png", tmp_path / "n.pdf")
    for path in tmp_path.glob("*.png"):
        assert path.stat().st_size > 10_000 and path.with_suffix(".pdf").stat().st_size > 5_000
