"""The transfer study (issue 17): fine-tuning starts from the source's weights, the zero-shot number
never sees a target label, the labelled subsets, and same config and seed give the same results."""

from __future__ import annotations

import inspect
from io import BytesIO

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from skyhunt import io
from skyhunt.cnn.module import CutoutClassifier
from skyhunt.sky.components import component_rng
from skyhunt.transfer.data import labelled_subset
from skyhunt.transfer.metrics import stripe_metrics
from skyhunt.transfer.pipeline import run_transfer_train, run_transfer_zero_shot
from skyhunt.transfer.readers import read_transfer_scores
from skyhunt.transfer.training import fine_tune_schedule

OPTIMIZER = {
    "momentum": 0.9,
    "weight_decay": 0.003,
    "lr_start": 1e-3,
    "lr": 5e-3,
    "warmup_batches": 50,
    "drop_after_batches": 100,
    "lr_after_drop": 5e-4,
}
CNN = {"architecture": "small", "accelerator": "cpu", "optimizer": OPTIMIZER}
TRAINING = {"batch_size": 16, "max_batches_per_ratio": 150, "augment": True}
TRANSFER = {
    "negatives_per_positive": 1.0,
    "ratio": 1.0,
    "eval_every_steps": 3,
    "log_every_steps": 3,
    "fine_tune": {"steps": 6, "lr_factor": 0.1},
    "scratch": {"steps": 6},
}


def _cutouts(tmp_path, seed=0, n=90, npix=16):
    """Target cutouts: white noise, positives with a central decrement; stripes of 30 each."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 10.0, (n, 3, npix, npix)).astype(np.float32)
    label = np.zeros(n, bool)
    label[::5] = True
    yy, xx = np.mgrid[:npix, :npix] - (npix - 1) / 2
    x[label] -= (40.0 * np.exp(-(xx**2 + yy**2) / 8.0)).astype(np.float32)
    split = np.repeat(["test", "validation", "train"], n // 3)
    array = tmp_path / "dust.npy"
    np.save(array, x)
    index = tmp_path / "index.parquet"
    io.write_table(
        index,
        {"cutout_id": np.arange(n), "split": split, "dropped": np.zeros(n, bool), "label": label},
        {"cutout_id": "", "split": "", "dropped": "", "label": ""},
    )
    return array, index


def _source_model(tmp_path, npix=16):
    """A source classifier exported as train_cnn does (minimal checkpoint with its threshold)."""
    L.seed_everything(1, verbose=False)
    module = CutoutClassifier("small", 3, npix, [0.0] * 3, [10.0] * 3, OPTIMIZER)
    path = tmp_path / "source.ckpt"
    buffer = BytesIO()
    torch.save(
        {
            "pytorch-lightning_version": L.__version__,
            "hyper_parameters": dict(module.hparams),
            "state_dict": module.state_dict(),
            "skyhunt": {"threshold": 0.25},
        },
        buffer,
    )
    path.write_bytes(buffer.getvalue())
    return path, {k: v.clone() for k, v in module.state_dict().items()}


class FirstStep(L.Callback):
    """The module's weights just before the first optimiser step."""

    def __init__(self):
        self.weights = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 0 and self.weights is None:
            self.weights = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


def _train(tmp_path, name, mode, array, index, source, n="4", replicate="0", seed=5, callbacks=()):
    out = tmp_path / f"{name}.parquet"
    run_transfer_train(
        mode=mode,
        n=n,
        replicate=replicate,
        seed=seed,
        cnn=CNN,
        training=TRAINING,
        transfer=TRANSFER,
        source_model=source,
        array=array,
        index=index,
        workdir=tmp_path / f"{name}_checkpoints",
        scores=out,
        callbacks=callbacks,
    )
    return read_transfer_scores(out)


def test_fine_tuning_starts_from_the_source_weights_and_scratch_does_not(tmp_path, one_torch_thread):
    array, index = _cutouts(tmp_path)
    source, weights = _source_model(tmp_path)
    tuned, scratch = FirstStep(), FirstStep()
    _train(tmp_path, "ft", "fine_tune", array, index, source, callbacks=[tuned])
    _train(tmp_path, "sc", "scratch", array, index, source, callbacks=[scratch])
    params = [k for k in weights if k.startswith("net.") and "running" not in k and "num_batches" not in k]
    assert params and set(weights) <= set(tuned.weights)
    for key in weights:
        torch.testing.assert_close(tuned.weights[key], weights[key], rtol=0, atol=0, msg=key)
    differs = [k for k in params if not torch.equal(scratch.weights[k], weights[k])]
    assert len(differs) > len(params) // 2, "scratch starts from a new network"
    assert not torch.equal(scratch.weights["band_std"], weights["band_std"]), (
        "scratch scales with the target's cutouts"
    )


def test_fine_tune_schedule_is_the_source_schedule_shortened():
    schedule = fine_tune_schedule(OPTIMIZER, 150, {"steps": 30, "lr_factor": 0.1})
    assert schedule["lr"] == pytest.approx(5e-4) and schedule["lr_start"] == pytest.approx(1e-4)
    assert schedule["lr_after_drop"] == pytest.approx(5e-5)
    assert (schedule["warmup_batches"], schedule["drop_after_batches"]) == (10, 20)
    assert schedule["momentum"] == OPTIMIZER["momentum"]


def test_same_config_and_seed_give_identical_results_and_another_seed_others(tmp_path, one_torch_thread):
    array, index = _cutouts(tmp_path)
    source, _ = _source_model(tmp_path)
    a, meta_a = _train(tmp_path, "a", "fine_tune", array, index, source)
    b, meta_b = _train(tmp_path, "b", "fine_tune", array, index, source)
    c, meta_c = _train(tmp_path, "c", "fine_tune", array, index, source, replicate="1")
    pd.testing.assert_frame_equal(a, b)
    assert meta_a == meta_b
    assert not np.array_equal(a["raw_score"], c["raw_score"])
    # validation then test rows, the threshold from the target validation stripe
    assert list(a["row"]) == [*range(30, 60), *range(0, 30)]
    assert meta_a["threshold_from"] == "target validation" and meta_a["n_positives"] == 4


def test_zero_shot_reads_no_target_label(tmp_path, one_torch_thread):
    """Its step takes no index, and its scores and threshold are the same whatever the labels."""
    assert not {"index", "labels", "halos"} & set(inspect.signature(run_transfer_zero_shot).parameters)
    array, index = _cutouts(tmp_path)
    source, _ = _source_model(tmp_path)
    run_transfer_zero_shot(
        accelerator="cpu", batch_size=16, model=source, array=array, scores=tmp_path / "z.parquet"
    )
    table, meta = read_transfer_scores(tmp_path / "z.parquet")
    assert meta["threshold"] == 0.25 and meta["threshold_from"] == "source validation"
    assert list(table["row"]) == list(range(90))
    module = CutoutClassifier.load_from_checkpoint(source, map_location="cpu").eval()
    with torch.inference_mode():
        logits = module(torch.from_numpy(np.load(array)[:5]))
    np.testing.assert_allclose(table["raw_score"][:5], (logits[:, 1] - logits[:, 0]).numpy(), rtol=1e-5)


def test_labelled_subset_draws_n_positives_and_matching_negatives_without_replacement():
    positives, negatives = np.arange(0, 40), np.arange(100, 400)
    pos, neg = labelled_subset(positives, negatives, 10, 2.0, component_rng(1, "transfer_10_0"))
    assert len(pos) == len(set(pos)) == 10 and len(neg) == len(set(neg)) == 20
    assert set(pos) <= set(positives) and set(neg) <= set(negatives)
    again = labelled_subset(positives, negatives, 10, 2.0, component_rng(1, "transfer_10_0"))
    np.testing.assert_array_equal(pos, again[0])
    other = labelled_subset(positives, negatives, 10, 2.0, component_rng(1, "transfer_10_1"))
    assert not np.array_equal(pos, other[0])
    every, _ = labelled_subset(positives, negatives, None, 1.0, component_rng(1, "transfer_all_0"))
    np.testing.assert_array_equal(every, positives)
    more, few = labelled_subset(positives[:3], negatives[:2], 100, 1.0, component_rng(1, "x"))
    assert len(more) == 3 and len(few) == 2


def test_stripe_metrics_count_the_confusion_matrix():
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.7, 0.1])
    labels = np.array([True, True, True, False, False, False])
    m = stripe_metrics(scores, labels, 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 2)
    assert m["f1"] == pytest.approx(2 / 3) and m["precision"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(8 / 9)
