"""Training the detector: seeded, deterministic, resumable after a kill to the identical model.

The state lives in ``workdir`` (not a rule output): ``fingerprint.json`` (the config, seed,
device, the inputs' SHA-256 and the library versions; :func:`detector_fingerprint`), and the
checkpoints ``last.ckpt`` (written at every evaluation, every ``eval_every_steps`` steps, one
Lightning epoch) and ``best.ckpt`` (the lowest validation-patch loss). A killed job resumes from
``last.ckpt`` only while the fingerprint matches; any other state is deleted and training
starts afresh (:func:`skyhunt.cnn.training.claim_directory`, shared with the CNN). The history
rows travel inside the checkpoints (:class:`skyhunt.cnn.training.RungHistory`), and every
batch depends only on (seed, epoch), so a resumed run gives the bytes of an uninterrupted one.
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
from skyhunt.cnn.module import model_summary
from skyhunt.cnn.training import Device, claim_directory, file_sha256, step_trainer, write_training_outputs
from skyhunt.detector.data import PatchDataModule, Patches
from skyhunt.detector.module import HeatmapDetector

log = logging.getLogger("skyhunt.detector")

#: Keys of config ``detector`` that do not change the trained model.
UNFINGERPRINTED_KEYS = ("accelerator", "peaks", "match_arcmin")


def detector_fingerprint(detector: dict, seed: int, context: dict, device: Device, inputs: dict) -> dict:
    """Everything the trained model depends on, as a JSON-able dict.

    Parameters
    ----------
    detector : dict
        Config ``detector``; all of it but :data:`UNFINGERPRINTED_KEYS`.
    seed : int
    context : dict
        The other config values the patches depend on (footprint, nside, splits).
    device : Device
    inputs : dict
        SHA-256 of every input file, by name.
    """
    return {
        "detector": {k: v for k, v in detector.items() if k not in UNFINGERPRINTED_KEYS},
        "seed": seed,
        "context": context,
        "device": asdict(device),
        "inputs": inputs,
        "versions": {"torch": torch.__version__, "lightning": L.__version__},
    }


def input_digests(paths: dict) -> dict:
    """SHA-256 of each file, by name (lists of files give lists)."""
    return {
        name: [file_sha256(p) for p in path] if isinstance(path, list | tuple) else file_sha256(path)
        for name, path in paths.items()
    }


def train_detector(
    detector: dict,
    seed: int,
    train: Patches,
    validation: Patches,
    sigma_px: np.ndarray,
    fingerprint: dict,
    workdir,
    model,
    history,
    summary,
    callbacks=(),
) -> None:
    """Train (or resume) the detector and write the best model, its history and a summary.

    Parameters
    ----------
    detector : dict
        Config ``detector``.
    seed : int
    train, validation : Patches
        Training-stripe and validation-stripe patches.
    sigma_px : ndarray
        Heat-map width per class, pixels; its length is the number of classes (heat-map channels).
    fingerprint : dict
        :func:`detector_fingerprint` of this run.
    workdir : path-like
        Training state (kept between runs; reused only under the same fingerprint).
    model, history, summary : path-like
        Outputs: the minimal Lightning checkpoint of the best weights
        (``HeatmapDetector.load_from_checkpoint`` reads it), the CSV of train and validation
        losses, and a JSON summary.
    callbacks : sequence of lightning.Callback
        Extra callbacks (tests use one to kill a run mid-way).
    """
    t, workdir = detector["training"], Path(workdir)
    device = Device(**fingerprint["device"])
    claim_directory(workdir, fingerprint, "detector")
    data = PatchDataModule(train, validation, sigma_px, t, seed)
    L.seed_everything(seed, workers=True, verbose=False)
    mean, std = band_statistics(train.images, np.arange(len(train.images)))
    module = HeatmapDetector(
        detector["architecture"], train.images.shape[1], len(sigma_px), mean.tolist(), std.tolist(), t
    )
    trainer, best, rows = step_trainer(workdir, device, t, callbacks)
    resume = workdir / "last.ckpt"
    t0 = time.perf_counter()
    if resume.exists():
        log.info("resuming from %s", resume)
    else:
        log.info(
            "training %s on %s (%s): %d training, %d validation patches of %d^2 pixels",
            model_summary(module),
            device.accelerator,
            device.precision,
            len(train.images),
            len(validation.images),
            train.images.shape[-1],
        )
    trainer.fit(module, datamodule=data, ckpt_path=resume if resume.exists() else None)
    seconds = time.perf_counter() - t0
    record = {
        "steps": int(trainer.global_step),
        "best_validation_loss": float(best.best_model_score),
        "best_checkpoint": Path(best.best_model_path).name,
        "train_patches": len(train.images),
        "validation_patches": len(validation.images),
        "band_mean": mean.tolist(),
        "band_std": std.tolist(),
    }
    log.info(
        "%d steps in %.0f s; best validation loss %.4f",
        record["steps"],
        seconds,
        record["best_validation_loss"],
    )
    write_training_outputs(best, rows, record, fingerprint["device"], model, history, summary)
