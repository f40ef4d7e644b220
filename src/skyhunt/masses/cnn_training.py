"""The ``train_cnn_mass`` rule: the CNN mass estimate (issue 16; beyond DeepSZ).

Training state lives in ``workdir`` as the detector's does: ``fingerprint.json`` (config, seed,
device, the inputs' SHA-256, library versions), ``last.ckpt`` at every evaluation and ``best.ckpt``
(the lowest validation loss); a killed job resumes only under the same fingerprint
(:func:`skyhunt.cnn.training.claim_directory`), and the history rows travel in the checkpoints
(:class:`skyhunt.cnn.training.RungHistory`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import torch

from skyhunt.cnn.data import band_statistics
from skyhunt.cnn.training import Device, claim_directory, file_sha256, step_trainer, write_training_outputs
from skyhunt.masses.cnn_pipeline import REDSHIFT_NOTE, read_positives
from skyhunt.masses.regression import MassDataModule, MassRegressor
from skyhunt.sky.components import component_rng

log = logging.getLogger("skyhunt.masses")


def cnn_mass_fingerprint(cnn_mass: dict, seed: int, device: Device, inputs: dict) -> dict:
    """Everything the trained mass network depends on, as a JSON-able dict."""
    return {
        "cnn_mass": cnn_mass,
        "seed": seed,
        "device": asdict(device),
        "inputs": inputs,
        "versions": {"torch": torch.__version__, "lightning": L.__version__},
    }


def run_train_cnn_mass(
    *,
    cnn_mass: dict,
    accelerator: str,
    seed: int,
    array,
    index,
    halos,
    workdir,
    model,
    history,
    summary,
    callbacks=(),
) -> None:
    """Train the mass network on the training split's positive cutouts; keep the best validation loss.

    Parameters
    ----------
    cnn_mass : dict
        Config ``masses.cnn``: ``hidden``, ``batch_size``, ``steps``, ``eval_every_steps``,
        ``log_every_steps``, ``lr``, ``weight_decay``, ``augment``.
    accelerator : str
        Config ``cnn.accelerator``.
    seed : int
        Run seed (the network's stream ``cnn_mass``).
    array, index, halos : path-like
        The evaluation stage's cutouts, the cutout index and the halo table (M500c, z).
    workdir : path-like
        Training state, kept between runs and reused only under the same fingerprint.
    model, history, summary : path-like
        Outputs: the best weights as a minimal Lightning checkpoint
        (``MassRegressor.load_from_checkpoint``), the CSV of losses (batch, split, loss) and JSON.
    callbacks : sequence of lightning.Callback
        Extra callbacks (monitoring; a test uses one to kill a run).
    """
    t, workdir = cnn_mass, Path(workdir)
    device = Device.detect(accelerator)
    data = read_positives(array, index, halos)
    inputs = {name: file_sha256(p) for name, p in (("array", array), ("index", index), ("halos", halos))}
    claim_directory(workdir, cnn_mass_fingerprint(t, seed, device, inputs), "CNN masses")
    train, validation = data.rows["train"], data.rows["validation"]
    stream = int(component_rng(seed, "cnn_mass").integers(2**31))
    L.seed_everything(stream, workers=True, verbose=False)
    mean, std = band_statistics(data.array, train)
    z, ln_m = data.z[train], np.log(data.m500c[train])
    module = MassRegressor(
        data.array.shape[1],
        t["hidden"],
        mean.tolist(),
        std.tolist(),
        float(z.mean()),
        float(max(z.std(), 1e-3)),
        float(ln_m.mean()),
        float(max(ln_m.std(), 1e-3)),
        t,
    )
    trainer, best, rows = step_trainer(workdir, device, t, callbacks)
    resume = workdir / "last.ckpt"
    t0 = time.perf_counter()
    n_par = sum(p.numel() for p in module.parameters())
    log.info(
        "%s mass network (%d parameters) on %s (%s): %d training, %d validation positives",
        "resuming the" if resume.exists() else "training a",
        n_par,
        device.accelerator,
        device.precision,
        train.size,
        validation.size,
    )
    batches = MassDataModule(data.dataset, train, validation, t, stream)
    trainer.fit(module, datamodule=batches, ckpt_path=resume if resume.exists() else None)
    record = {
        "steps": int(trainer.global_step),
        "best_validation_loss": float(best.best_model_score),
        "best_checkpoint": Path(best.best_model_path).name,
        "train_positives": int(train.size),
        "validation_positives": int(validation.size),
        "redshift": REDSHIFT_NOTE,
    }
    log.info(
        "%d steps in %.1f s; best validation Gaussian NLL %.4f",
        record["steps"],
        time.perf_counter() - t0,
        record["best_validation_loss"],
    )
    write_training_outputs(best, rows, record, asdict(device), model, history, summary)
