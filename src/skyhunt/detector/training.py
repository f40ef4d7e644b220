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

from skyhunt import io
from skyhunt.cnn.data import band_statistics
from skyhunt.cnn.module import model_summary
from skyhunt.cnn.training import Device, claim_directory, file_sha256, step_trainer, write_training_outputs
from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.cutouts.grid import CutoutGeometry, interpolation_reach_arcmin
from skyhunt.cutouts.layout import split_of
from skyhunt.detector.data import PatchDataModule, Patches, cut_patches, patch_centres, patch_rng
from skyhunt.detector.module import HeatmapDetector
from skyhunt.detector.objects import CLASSES
from skyhunt.detector.pipeline import read_objects
from skyhunt.sky.footprint import Footprint

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


def sigma_pixels(detector: dict, pixel_arcmin: float) -> np.ndarray:
    """Heat-map Gaussian width per class (config ``detector.sigma_arcmin``), pixels."""
    return np.array([detector["sigma_arcmin"][c] for c in CLASSES]) / pixel_arcmin


def run_train_detector(
    *,
    maps,
    objects,
    detector: dict,
    seed: int,
    footprint: dict,
    nside: int,
    splits: dict,
    pixel_arcmin: float,
    workdir,
    model,
    history,
    summary,
    threads: int = 1,
    callbacks=(),
) -> None:
    """Cut training and validation patches from the observed maps and train the detector.

    Parameters
    ----------
    maps : list of path-like
        The evaluation stage's observed maps, one per band (µK_CMB).
    objects : path-like
        ``objects.parquet``.
    detector : dict
        Config ``detector``.
    seed : int
    footprint, splits : dict
        Config ``sky.footprint`` and ``cutouts.splits``.
    nside : int
    pixel_arcmin : float
        Patch pixel side (config ``mf.tiles.pixel_arcmin``, the inference tiles' pixels).
    workdir : path-like
        Training state (resumable; :mod:`skyhunt.detector.training`).
    model, history, summary : path-like
        Outputs.
    threads : int
        Threads of the patch extraction.
    callbacks : sequence of lightning.Callback
    """
    maps = [str(m) for m in maps]
    device = Device.detect(detector["accelerator"])
    context = {"footprint": footprint, "nside": nside, "splits": splits, "pixel_arcmin": pixel_arcmin}
    fingerprint = detector_fingerprint(
        detector, seed, context, device, input_digests({"maps": maps, "objects": objects})
    )
    pixels, values = io.read_partial_maps(maps, nside=nside)
    table = read_objects(objects)
    box = Footprint.from_config(footprint)
    npix = detector["patches"]["npix"]
    geometry = CutoutGeometry(npix * pixel_arcmin, npix)
    sigma_px = sigma_pixels(detector, pixel_arcmin)
    interp = PatchInterpolator(nside, pixels)
    reach = interpolation_reach_arcmin(nside)
    sets = {}
    for split in ("train", "validation"):
        ra, dec = patch_centres(
            table,
            split,
            box,
            geometry,
            reach,
            detector["patches"],
            lambda r: split_of(r, box, splits),
            patch_rng(seed, split),
        )
        sets[split] = cut_patches(interp, values, ra, dec, geometry, table, 3.0 * sigma_px.max(), threads)
    train_detector(
        detector,
        seed,
        sets["train"],
        sets["validation"],
        sigma_px,
        fingerprint,
        workdir,
        model,
        history,
        summary,
        callbacks,
    )
