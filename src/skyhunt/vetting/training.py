"""The ``train_vetter`` rule: the CNN vetter, trained as the classifier is (seeded, resumable
after a kill under the same fingerprint: :func:`skyhunt.cnn.training.claim_directory`)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import lightning as L
import torch

from skyhunt.cnn.data import band_statistics
from skyhunt.cnn.training import Device, claim_directory, file_sha256, step_trainer, write_training_outputs
from skyhunt.sky.components import component_rng
from skyhunt.vetting.models import LabelledCutouts
from skyhunt.vetting.module import CandidateVetter, VettingDataModule
from skyhunt.vetting.pipeline import read_vetting, split_rows

log = logging.getLogger("skyhunt.vetting")


def run_train_vetter(
    *,
    vetting_cnn: dict,
    accelerator: str,
    seed: int,
    table,
    array,
    workdir,
    model,
    history,
    summary,
    callbacks=(),
) -> None:
    """Train the CNN vetter on the training stripe's candidates; keep the best validation loss.

    Parameters
    ----------
    vetting_cnn : dict
        Config ``vetting.cnn``: ``architecture``, ``batch_size``, ``steps``, ``eval_every_steps``,
        ``log_every_steps``, ``lr``, ``weight_decay``, ``augment``.
    accelerator : str
        Config ``cnn.accelerator``.
    seed : int
        Run seed (the stream ``vetting_cnn``).
    table, array : path-like
        The stage's vetting table and cutouts (``vetting_data``).
    workdir : path-like
        Training state, kept between runs and reused only under the same fingerprint.
    model, history, summary : path-like
        Outputs: the best weights (``CandidateVetter.load_from_checkpoint``), the CSV of losses, JSON.
    callbacks : sequence of lightning.Callback
        Extra callbacks (tests).
    """
    t, workdir = vetting_cnn, Path(workdir)
    device = Device.detect(accelerator)
    data, cutouts = read_vetting(table, array)
    rows = split_rows(data)
    inputs = {"table": file_sha256(table), "array": file_sha256(array)}
    fingerprint = {
        "vetting_cnn": t,
        "seed": seed,
        "device": asdict(device),
        "inputs": inputs,
        "versions": {"torch": torch.__version__, "lightning": L.__version__},
    }
    claim_directory(workdir, fingerprint, "CNN vetter")
    stream = int(component_rng(seed, "vetting_cnn").integers(2**31))
    L.seed_everything(stream, workers=True, verbose=False)
    mean, std = band_statistics(cutouts, rows["train"])
    module = CandidateVetter(
        t["architecture"], cutouts.shape[1], cutouts.shape[2], mean.tolist(), std.tolist(), t
    )
    trainer, best, history_rows = step_trainer(workdir, device, t, callbacks)
    resume = workdir / "last.ckpt"
    t0 = time.perf_counter()
    labels = data["label"].to_numpy(int)
    log.info(
        "%s %s vetter (%d parameters) on %s: %d training (%d real), %d validation candidates",
        "resuming the" if resume.exists() else "training a",
        t["architecture"],
        sum(p.numel() for p in module.parameters()),
        device.accelerator,
        rows["train"].size,
        int(labels[rows["train"]].sum()),
        rows["validation"].size,
    )
    batches = VettingDataModule(
        LabelledCutouts(cutouts, labels), rows["train"], rows["validation"], t, stream
    )
    trainer.fit(module, datamodule=batches, ckpt_path=resume if resume.exists() else None)
    record = {
        "steps": int(trainer.global_step),
        "best_validation_loss": float(best.best_model_score),
        "best_checkpoint": Path(best.best_model_path).name,
        "train_candidates": int(rows["train"].size),
        "train_real": int(labels[rows["train"]].sum()),
    }
    log.info(
        "%d steps in %.1f s; best validation BCE %.4f",
        record["steps"],
        time.perf_counter() - t0,
        record["best_validation_loss"],
    )
    write_training_outputs(best, history_rows, record, asdict(device), model, history, summary)
