"""The CNN mass estimate (issue 16): a regression network that recovers a known mass trend.

Synthetic cutouts: white noise plus a Gaussian decrement (the tSZ sign at 90 and 148 GHz, an
increment at 219 GHz) whose amplitude is proportional to M500c at a fixed redshift, so ln M
is a known function of the image. The network, trained on the training split only, must
recover it on held-out cutouts.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from skyhunt import io
from skyhunt.config import ConfigError, validate_config
from skyhunt.masses.cnn_pipeline import CNN_MASS_UNITS, read_positives, run_cnn_masses
from skyhunt.masses.cnn_training import run_train_cnn_mass
from skyhunt.masses.estimator import MassEstimator, predict_ln_mass
from skyhunt.masses.pipeline import run_cnn_mass_metrics
from skyhunt.masses.regression import MassRegressor

from .conftest import shipped_config

#: Per-band amplitude of the synthetic cluster per unit of M / 1e14 M_sun (µK), and the noise rms (µK).
BAND_AMPLITUDE = np.array([-1.0, -0.8, 0.3])
NOISE_UK = 1.0
NPIX = 16
SPLIT_SIZES = {"train": 256, "validation": 48, "test": 64}
NEGATIVES = 20

TRAINING = {
    "hidden": 32,
    "batch_size": 32,
    "steps": 240,
    "eval_every_steps": 40,
    "log_every_steps": 10,
    "lr": 3.0e-3,
    "weight_decay": 1.0e-4,
    "augment": True,
}


def cluster_images(ln_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cutouts (N, 3, NPIX, NPIX) float32: a Gaussian (sigma 1.5 px, centre within 1 px of the
    middle) of amplitude BAND_AMPLITUDE * M / 1e14 M_sun plus white noise of NOISE_UK."""
    n = len(ln_m)
    y, x = np.mgrid[:NPIX, :NPIX] - (NPIX - 1) / 2
    dx, dy = rng.uniform(-1, 1, (2, n, 1, 1))
    profile = np.exp(-((x - dx) ** 2 + (y - dy) ** 2) / (2 * 1.5**2))
    amp = np.exp(ln_m)[:, None, None, None] / 1e14 * BAND_AMPLITUDE[None, :, None, None]
    return (amp * profile[:, None] + NOISE_UK * rng.standard_normal((n, 3, NPIX, NPIX))).astype(np.float32)


def write_synthetic(directory, seed: int = 0, replace: tuple = (), replace_seed: int = 99) -> dict:
    """Synthetic cutouts, index and halo table in ``directory``; ln M500c uniform in [ln 1e14, ln 1e15],
    z = 0.5 for every halo. The cutouts of the splits in ``replace`` are redrawn from ``replace_seed``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    parts, split, ln_m = [], [], []
    for name, n in SPLIT_SIZES.items():
        lm = rng.uniform(np.log(1e14), np.log(1e15), n)
        images = cluster_images(lm, rng)
        if name in replace:
            images = cluster_images(lm, np.random.default_rng(replace_seed))
        parts.append(images)
        split += [name] * n
        ln_m.append(lm)
    parts.append(NOISE_UK * rng.standard_normal((NEGATIVES, 3, NPIX, NPIX)).astype(np.float32))
    split += ["train"] * NEGATIVES
    n_pos = sum(SPLIT_SIZES.values())
    halo_id = np.concatenate([np.arange(n_pos) + 1000, np.full(NEGATIVES, -1)])
    paths = {
        k: directory / f
        for k, f in (("array", "dust.npy"), ("index", "index.parquet"), ("halos", "halos.parquet"))
    }
    np.save(paths["array"], np.concatenate(parts))
    n = len(split)
    io.write_table(
        paths["index"],
        {
            "cutout_id": np.arange(n),
            "split": np.array(split),
            "dropped": np.zeros(n, bool),
            "label": np.arange(n) < n_pos,
            "halo_id": halo_id,
        },
        {"cutout_id": "", "split": "", "dropped": "", "label": "", "halo_id": ""},
    )
    io.write_table(
        paths["halos"],
        {"halo_id": np.arange(n_pos) + 1000, "m500c": np.exp(np.concatenate(ln_m)), "z": np.full(n_pos, 0.5)},
        {"halo_id": "", "m500c": "M_sun", "z": ""},
    )
    return paths


def train_and_predict(inputs: dict, out, training=TRAINING, seed: int = 3) -> dict:
    """Run ``train_cnn_mass`` and ``cnn_masses`` on ``inputs`` into ``out``; the output paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": out / "model.ckpt",
        "history": out / "history.csv",
        "summary": out / "training.json",
        "table": out / "cnn_dust.parquet",
    }
    run_train_cnn_mass(
        cnn_mass=training,
        accelerator="cpu",
        seed=seed,
        **inputs,
        workdir=out / "checkpoints",
        model=paths["model"],
        history=paths["history"],
        summary=paths["summary"],
    )
    run_cnn_masses(
        accelerator="cpu",
        batch_size=training["batch_size"],
        stage="dust",
        model=paths["model"],
        **inputs,
        table=paths["table"],
    )
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("cnn_mass")
    inputs = write_synthetic(root / "data")
    return inputs, train_and_predict(inputs, root / "run")


def test_recovers_the_mass_trend_on_held_out_cutouts(trained):
    """On the test split: ln M_est tracks ln M_true with slope 1 +- 0.2, correlation > 0.9, |bias| < 0.1."""
    _, paths = trained
    table, units = io.read_table(paths["table"])
    assert units == CNN_MASS_UNITS
    assert "true redshift" in io.read_table_meta(paths["table"])["redshift"]
    assert set(table["split"]) == {"validation", "test"}
    test = table[table["split"] == "test"]
    assert len(test) == SPLIT_SIZES["test"]
    est, true = np.log(test["m500c"].to_numpy()), np.log(test["m500c_true"].to_numpy())
    slope = np.polyfit(true, est, 1)[0]
    assert abs(slope - 1.0) < 0.2, slope
    assert np.corrcoef(est, true)[0, 1] > 0.9
    assert abs(np.mean(est - true)) < 0.1
    # the predicted width is of the order of the residuals (the Gaussian NLL's variance head)
    rms = np.sqrt(np.mean((est - true) ** 2))
    assert 0.3 * rms < np.median(test["sigma_ln_m500c"]) < 3.0 * rms


def test_estimator_gives_the_lightning_modules_masses(trained):
    """MassEstimator (torch alone) reads the exported model into the very weights and masses of
    MassRegressor.load_from_checkpoint (that its module imports no Lightning: tests/test_cnn.py)."""
    inputs, paths = trained
    lightning_module = MassRegressor.load_from_checkpoint(paths["model"], map_location="cpu")
    estimator = MassEstimator.from_checkpoint(paths["model"])
    assert estimator.state_dict().keys() == lightning_module.state_dict().keys()
    data = read_positives(inputs["array"], inputs["index"], inputs["halos"])
    rows = np.concatenate([data.rows["validation"], data.rows["test"]])
    ours = predict_ln_mass(estimator, data.dataset, rows, 5)
    theirs = predict_ln_mass(lightning_module, data.dataset, rows, 5)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    table = io.read_table(paths["table"])[0]
    assert np.array_equal(np.exp(ours[0]), table["m500c"].to_numpy())


def test_metrics_are_the_mean_and_scatter_of_the_test_log_ratio(trained, tmp_path):
    _, paths = trained
    cfg = shipped_config()
    summary = tmp_path / "metrics.json"
    metrics = dict(cfg["masses"]["metrics"], m500c_bins=[1e14, 3e14, 1e15], z_bins=[0.0, 1.0])
    run_cnn_mass_metrics(
        metrics=metrics,
        bootstrap={"samples": 200, "interval": 0.68},
        seed=1,
        table=paths["table"],
        summary=summary,
    )
    out = json.loads(summary.read_text())
    table, _ = io.read_table(paths["table"])
    test = table[table["split"] == "test"]
    ln_ratio = np.log(test["m500c"] / test["m500c_true"]).to_numpy()
    assert out["all"]["n"] == len(test)
    assert out["all"]["bias"] == pytest.approx(ln_ratio.mean())
    assert out["all"]["scatter"] == pytest.approx(ln_ratio.std(ddof=1))
    assert out["all"]["bias_lo"] < out["all"]["bias"] < out["all"]["bias_hi"]
    assert sum(b["n"] for b in out["by_m500c"]) == len(test)
    assert out["by_z"][0]["n"] == len(test)


def _weights(model_path) -> dict:
    return torch.load(model_path, map_location="cpu", weights_only=True)["state_dict"]


def test_trained_on_the_training_split_only(tmp_path, one_torch_thread):
    """Redrawing every validation and test cutout leaves the weights unchanged (one evaluation, so the
    best checkpoint is the last); redrawing the training cutouts changes them."""
    short = dict(TRAINING, steps=20, eval_every_steps=20)
    base = train_and_predict(write_synthetic(tmp_path / "a"), tmp_path / "ra", short)
    other = write_synthetic(tmp_path / "b", replace=("validation", "test"))
    moved = train_and_predict(other, tmp_path / "rb", short)
    retrained = train_and_predict(write_synthetic(tmp_path / "c", replace=("train",)), tmp_path / "rc", short)
    w0, w1, w2 = (_weights(p["model"]) for p in (base, moved, retrained))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert not all(torch.equal(w0[k], w2[k]) for k in w0)
    # the predictions do follow the redrawn validation and test cutouts
    t0, t1 = (io.read_table(p["table"])[0] for p in (base, moved))
    assert not np.array_equal(t0["m500c"], t1["m500c"])


def test_same_seed_same_bytes(tmp_path, one_torch_thread):
    short = dict(TRAINING, steps=20, eval_every_steps=10)
    inputs = write_synthetic(tmp_path / "data")
    one = train_and_predict(inputs, tmp_path / "one", short)
    two = train_and_predict(inputs, tmp_path / "two", short)
    for key in ("model", "history", "table"):
        assert one[key].read_bytes() == two[key].read_bytes(), key
    three = train_and_predict(inputs, tmp_path / "three", short, seed=4)
    assert one["model"].read_bytes() != three["model"].read_bytes()


def test_bad_inputs_fail_naming_the_file(tmp_path, trained):
    inputs = write_synthetic(tmp_path / "data")
    out = dict(
        workdir=tmp_path / "w",
        model=tmp_path / "m.ckpt",
        history=tmp_path / "h.csv",
        summary=tmp_path / "s.json",
    )
    args = dict(cnn_mass=TRAINING, accelerator="cpu", seed=0, **out)

    bad = np.load(inputs["array"])
    bad[5, 1, 3, 3] = np.nan
    nan_array = tmp_path / "nan.npy"
    np.save(nan_array, bad)
    with pytest.raises(io.InputFileError, match="nan.npy"):
        run_train_cnn_mass(**args, **(inputs | {"array": nan_array}))

    halos, _ = io.read_table(inputs["halos"])
    few = tmp_path / "few_halos.parquet"
    io.write_table(
        few, {c: halos[c].to_numpy()[1:] for c in halos}, {"halo_id": "", "m500c": "M_sun", "z": ""}
    )
    with pytest.raises(io.InputFileError, match="few_halos.parquet.*halo_id \\[1000\\]"):
        run_train_cnn_mass(**args, **(inputs | {"halos": few}))

    m = halos["m500c"].to_numpy().copy()
    m[7] = np.nan
    nan_halos = tmp_path / "nan_halos.parquet"
    io.write_table(
        nan_halos,
        {"halo_id": halos["halo_id"], "m500c": m, "z": halos["z"]},
        {"halo_id": "", "m500c": "M_sun", "z": ""},
    )
    with pytest.raises(io.InputFileError, match="nan_halos.parquet"):
        run_train_cnn_mass(**args, **(inputs | {"halos": nan_halos}))

    not_a_model = tmp_path / "junk.ckpt"
    not_a_model.write_bytes(b"junk")
    with pytest.raises(io.InputFileError, match="junk.ckpt"):
        run_cnn_masses(
            accelerator="cpu",
            batch_size=8,
            stage="dust",
            model=not_a_model,
            **inputs,
            table=tmp_path / "t.parquet",
        )
    assert not (tmp_path / "t.parquet").exists()


def test_steps_must_be_whole_evaluation_periods():
    cfg = copy.deepcopy(shipped_config())
    cfg["masses"]["cnn"].update(steps=610, eval_every_steps=50)
    with pytest.raises(ConfigError, match="masses.cnn.steps"):
        validate_config(cfg)


class Kill(Callback):
    """Stops the run like a kill after ``at`` training steps."""

    def __init__(self, at):
        self.at = at

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step >= self.at:
            raise SystemExit("killed")


def test_killed_training_resumes_identically(tmp_path, one_torch_thread):
    short = dict(TRAINING, steps=30, eval_every_steps=10)
    inputs = write_synthetic(tmp_path / "data")
    whole = train_and_predict(inputs, tmp_path / "whole", short)
    out = tmp_path / "killed"
    with pytest.raises(SystemExit):
        run_train_cnn_mass(
            cnn_mass=short,
            accelerator="cpu",
            seed=3,
            **inputs,
            workdir=out / "checkpoints",
            model=out / "model.ckpt",
            history=out / "history.csv",
            summary=out / "training.json",
            callbacks=[Kill(15)],
        )
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 10
    assert not (out / "model.ckpt").exists()
    resumed = train_and_predict(inputs, out, short)
    for key in ("model", "history", "summary", "table"):
        assert resumed[key].read_bytes() == whole[key].read_bytes(), key
