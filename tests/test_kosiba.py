"""The Kosiba task and the ensemble across wavelengths (issue 18): channel sets, the classifier on
synthetic multi-channel signals, reproducibility, the ensemble with an informative extra score,
and ``snakemake kosiba`` end to end in the session's tiny run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.catalogues.ensembles import add_ranks, combine, fit_learned
from skyhunt.catalogues.metrics import best_scores, n_at_purity, true_entries
from skyhunt.multiwave.channels import CHANNEL_SETS, channel_indices, channel_names, regrid
from skyhunt.multiwave.ensemble import ensemble_scores, fit_extended, wavelength_entries
from skyhunt.multiwave.metrics import accuracy_threshold, classification_metrics
from skyhunt.multiwave.readers import DATA_UNITS

from .conftest import wait_for

BANDS = ["090", "148", "219"]

#: A CPU-tiny Kosiba network and training (two pools on 16-pixel images).
TINY_CNN = {
    "filters": [8, 8],
    "dense": 16,
    "dropout": 0.0,
    "batch_size": 16,
    "steps": 60,
    "eval_every_steps": 20,
    "log_every_steps": 10,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "ratio": 1.0,
}


def test_channel_sets_select_their_channels():
    names = channel_names(BANDS)
    assert names == ["mm_090", "mm_148", "mm_219", "xray", "g", "r", "i"]
    x = np.arange(len(names), dtype=np.float32)[None, :, None, None] * np.ones((2, 1, 4, 4), np.float32)
    picked = {cs: sorted({float(v) for v in x[:, channel_indices(names, cs)].ravel()}) for cs in CHANNEL_SETS}
    assert picked == {"mm": [0, 1, 2], "xray": [3], "optical": [4, 5, 6], "all": [0, 1, 2, 3, 4, 5, 6]}
    with pytest.raises(ValueError, match="unknown channel set"):
        channel_indices(names, "radio")
    with pytest.raises(ValueError, match="needs channels"):
        channel_indices(names[:3], "optical")


def test_regrid_keeps_counts_and_mean_levels():
    rng = np.random.default_rng(1)
    counts = rng.poisson(3.0, size=(2, 1, 64, 64)).astype(np.float32)
    out = regrid(counts, 32, "sum")
    assert out.shape == (2, 1, 32, 32)
    np.testing.assert_allclose(out.sum(axis=(2, 3)), counts.sum(axis=(2, 3)))
    np.testing.assert_allclose(out[0, 0, 0, 0], counts[0, 0, :2, :2].sum())
    temp = rng.normal(size=(1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(regrid(temp, 16, "mean").mean(axis=(2, 3)), temp.mean(axis=(2, 3)), atol=1e-6)
    with pytest.raises(ValueError, match="do not regrid"):
        regrid(temp, 10, "mean")


def test_accuracy_threshold_and_metrics():
    p = np.array([0.1, 0.2, 0.6, 0.7, 0.9])
    y = np.array([0, 0, 0, 1, 1])
    t = accuracy_threshold(p, y)
    assert t == 0.7
    m = classification_metrics(p, y, t)
    assert m == {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "auc": 1.0}
    m = classification_metrics(p, y, 0.5)
    assert m["accuracy"] == 0.8 and m["precision"] == pytest.approx(2 / 3) and m["recall"] == 1.0


def synthetic_dataset(tmp_path, n=240, signal_channel=3, amplitude=1.5, informative=True, seed=3):
    """A Kosiba dataset of 7 channels of 16 x 16 unit white noise; real candidates carry a centred
    Gaussian blob (sigma 2 px) of ``amplitude`` in ``signal_channel`` (none when not informative).
    Stripes: 60 % train, 20 % validation, 20 % test."""
    rng = np.random.default_rng(seed)
    label = (np.arange(n) % 2).astype(np.int8)
    x = rng.normal(size=(n, 7, 16, 16)).astype(np.float32)
    yy, xx = np.mgrid[:16, :16] - 7.5
    blob = np.exp(-(xx**2 + yy**2) / (2 * 2.0**2)).astype(np.float32)
    if informative:
        x[label == 1, signal_channel] += amplitude * blob
    split = np.array(["train"] * int(0.6 * n) + ["validation"] * int(0.2 * n) + ["test"] * (n - int(0.8 * n)))
    data, cutouts = tmp_path / "candidates.parquet", tmp_path / "cutouts.npy"
    columns = {
        "candidate": np.arange(n, dtype=np.int64),
        "ra": np.linspace(1.0, 2.0, n),
        "dec": np.zeros(n),
        "snr": np.full(n, 5.0),
        "split": split,
        "label": label,
        "reason": np.where(label == 1, "cluster", "noise"),
    }
    io.write_table(data, columns, DATA_UNITS, meta={"channels": channel_names(BANDS)})
    np.save(cutouts, x)
    return data, cutouts


def train(tmp_path, data, cutouts, channels, augment="aug", seeds=1, name="run"):
    from skyhunt.multiwave.training import run_kosiba_train

    out = tmp_path / name
    run_kosiba_train(
        kosiba_cnn=TINY_CNN,
        seeds=seeds,
        accelerator="cpu",
        seed=11,
        channels=channels,
        augment=augment,
        data=data,
        cutouts=cutouts,
        workdir=out / "checkpoints",
        scores=out / "scores.parquet",
        runs=out / "runs.csv",
    )
    return pd.read_csv(out / "runs.csv"), out


@pytest.mark.usefixtures("one_torch_thread")
def test_classifier_learns_a_signal_in_its_channels_only(tmp_path):
    """The X-ray channel carries the signal: the X-ray and all sets learn it (test AUC > 0.9), the
    mm and optical sets, which lack that channel, stay at chance (|AUC - 0.5| < 0.2)."""
    data, cutouts = synthetic_dataset(tmp_path)
    auc = {cs: train(tmp_path, data, cutouts, cs, name=cs)[0]["auc"].iloc[0] for cs in ("xray", "all", "mm")}
    assert auc["xray"] > 0.9 and auc["all"] > 0.9, auc
    assert abs(auc["mm"] - 0.5) < 0.2, auc


@pytest.mark.usefixtures("one_torch_thread")
def test_classifier_does_not_learn_pure_noise(tmp_path):
    data, cutouts = synthetic_dataset(tmp_path, informative=False)
    runs, _ = train(tmp_path, data, cutouts, "all")
    assert abs(runs["auc"].iloc[0] - 0.5) < 0.2, runs


@pytest.mark.usefixtures("one_torch_thread")
def test_same_config_and_seed_give_the_same_bytes(tmp_path):
    data, cutouts = synthetic_dataset(tmp_path, n=80)
    _, a = train(tmp_path, data, cutouts, "xray", augment="noaug", seeds=2, name="a")
    _, b = train(tmp_path, data, cutouts, "xray", augment="noaug", seeds=2, name="b")
    assert (a / "scores.parquet").read_bytes() == (b / "scores.parquet").read_bytes()
    assert (a / "runs.csv").read_bytes() == (b / "runs.csv").read_bytes()
    s = pd.read_parquet(a / "scores.parquet")
    p0, p1 = (s[s["seed"] == k]["probability"].to_numpy() for k in (0, 1))
    assert not np.allclose(p0, p1), "the two seeds train different networks"


def synthetic_catalogues(n=900, seed=5):
    """MF and detector catalogues of the same ``n`` well-separated positions, half on a qualifying
    halo; both scores weakly informative. Stripes by RA: train, validation, test thirds."""
    rng = np.random.default_rng(seed)
    ra = np.linspace(0.5, 89.5, n)
    dec = np.zeros(n)
    true = rng.random(n) < 0.5
    split = np.where(ra < 30, "train", np.where(ra < 60, "validation", "test"))

    def catalogue(score):
        return pd.DataFrame({"ra": ra, "dec": dec, "score": score, "class": "cluster", "split": split})

    mf = catalogue(3.0 + true + rng.normal(0, 1.5, n))
    det = catalogue(np.clip(0.3 + 0.1 * true + rng.normal(0, 0.2, n), 0.01, 1))
    return mf, det, pd.DataFrame({"ra": ra[true], "dec": dec[true]}), true, split


def n_found_at_90(table, score, halos, split):
    val, test = split == "validation", split == "test"
    true = true_entries(table["ra"], table["dec"], halos["ra"], halos["dec"], 1.0)
    test_halos = halos[halos["ra"] >= 60]
    best = best_scores(
        test_halos["ra"], test_halos["dec"], table["ra"][test], table["dec"][test], score[test], 1.0
    )
    return n_at_purity(score[val], true[val], best, 0.9, 0, np.random.default_rng(0))["n"]


def test_ensemble_with_an_informative_extra_score_finds_more():
    mf, det, halos, true, _ = synthetic_catalogues()
    rng = np.random.default_rng(9)
    has = rng.random(len(mf)) < 0.7  # the entries with cutouts
    informative = pd.DataFrame(
        {"ra": mf["ra"][has], "dec": mf["dec"][has], "score": (true + rng.normal(0, 0.3, len(mf)))[has]}
    )
    noise = informative.assign(score=rng.random(int(has.sum())))
    table = wavelength_entries(mf, det, 1.0, {"xray": informative, "optical": noise})
    assert np.array_equal(table["score_xray"].to_numpy() != 0, has[: len(table)])  # one entry per position
    labels = true_entries(table["ra"], table["dec"], halos["ra"], halos["dec"], 1.0)
    fitted = ensemble_scores(table, labels, l2=1.0)
    split = table["split"].to_numpy()
    n_without = n_found_at_90(table, fitted["learned"], halos, split)
    n_with = n_found_at_90(table, fitted["learned_multiwave"], halos, split)
    n_noise = n_found_at_90(
        table, ensemble_scores(table, labels, 1.0, ("optical",))["learned_multiwave"], halos, split
    )
    assert n_with > 2 * n_without + 20 and n_noise < n_with / 2, (n_with, n_without, n_noise)
    w = fitted["weights"]["learned_multiwave"]
    assert w["q_xray"] > 1.0 and abs(w["q_optical"]) < w["q_xray"] / 3, w


def test_extended_fit_has_the_objective_of_the_learned_ensemble():
    """Without extra scores, scikit-learn's fit is the catalogue ensemble's fit_learned (same objective)."""
    mf, det, halos, _, _ = synthetic_catalogues(n=300)
    table = add_ranks(combine(mf, det, 1.0))
    labels = true_entries(table["ra"], table["dec"], halos["ra"], halos["dec"], 1.0)
    base = fit_learned(table, labels, 1.0)
    ext = fit_extended(table, labels, 1.0, ())
    np.testing.assert_allclose(ext.coef_[0], base.weights, atol=2e-4)
    np.testing.assert_allclose(ext.intercept_[0], base.intercept, atol=2e-4)


@pytest.fixture(scope="module")
def kosiba_run(tiny_runs, two_runs):
    """``snakemake kosiba`` in a copy of the session's tiny run a (started by ``tiny_runs`` once
    run a is done; its config: 2 seeds, a handful of steps)."""
    return wait_for(tiny_runs["kosiba"]) / "results"


@pytest.mark.slow
def test_kosiba_target_end_to_end(kosiba_run):
    summary = pd.read_csv(kosiba_run / "kosiba" / "table.csv")
    assert len(summary) == 8 and (summary["seeds"] == 2).all()
    for m in ("accuracy", "precision", "recall", "auc"):
        values = summary[f"{m}_mean"].dropna()
        assert ((values >= 0) & (values <= 1)).all(), m
    md = (kosiba_run / "kosiba" / "table.md").read_text()
    assert "| CN all |" in md and "| CN solo x-ray no augm. |" in md and "A ± std" in md
    data = pd.read_parquet(kosiba_run / "kosiba" / "candidates.parquet")
    x = np.load(kosiba_run / "kosiba" / "cutouts.npy")
    assert x.shape == (len(data), 7, 32, 32) and np.isfinite(x).all()
    assert (x[:, 3] >= 0).all() and (x[:, 3] == np.round(x[:, 3])).all()  # X-ray: counts
    scores = pd.read_parquet(kosiba_run / "kosiba" / "xray_aug" / "scores.parquet")
    assert len(scores) == 2 * len(data)
    ens = json.loads((kosiba_run / "kosiba" / "ensemble.json").read_text())
    for method in ("learned", "learned_multiwave"):
        assert "0.9" in ens["methods"][method]["n_at_purity"]["qualifying"]
    assert ens["entries_with_cutouts"] == len(data)
    assert (kosiba_run / "figures" / "kosiba.png").stat().st_size > 0
