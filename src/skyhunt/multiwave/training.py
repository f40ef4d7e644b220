"""Training of the Kosiba classifier on one channel set over several seeds (rule ``kosiba_train``).

Each seed trains a fresh :class:`skyhunt.multiwave.model.KosibaClassifier` on the training
stripe's candidates, in balanced batches (:class:`skyhunt.vetting.models.VettingDataModule`, on
the :class:`skyhunt.cnn.data.RatioSampler`, with flips and quarter turns when augmented), for
``steps`` AdamW steps; the lowest validation-loss checkpoint (early stopping) scores every
candidate. Each seed's state lives in its own directory, resumable under a fingerprint
(:func:`skyhunt.cnn.training.claim_directory`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch

from skyhunt import io
from skyhunt.cnn.data import band_statistics
from skyhunt.cnn.training import Device, claim_directory, file_sha256, step_trainer
from skyhunt.multiwave.channels import channel_indices
from skyhunt.multiwave.metrics import METRICS, accuracy_threshold, classification_metrics
from skyhunt.multiwave.model import KosibaClassifier
from skyhunt.multiwave.readers import SCORE_UNITS, read_kosiba_data
from skyhunt.sky.components import component_rng
from skyhunt.vetting.models import LabelledCutouts, predict_logits
from skyhunt.vetting.module import VettingDataModule

log = logging.getLogger("skyhunt.multiwave")

#: Columns of the per-run metrics table.
RUN_COLUMNS = ("channels", "augment", "seed", "threshold", *METRICS, "steps", "best_validation_loss")


def seed_stream(seed: int, k: int) -> int:
    """The torch seed of Kosiba run ``k`` (stream ``kosiba_cnn/<k>``), shared by every channel set."""
    return int(component_rng(seed, f"kosiba_cnn/{k}").integers(2**31))


def train_and_score(
    cutouts: np.ndarray,
    labels: np.ndarray,
    rows: dict,
    training: dict,
    augment: bool,
    stream: int,
    device: Device,
    workdir: Path,
    fingerprint: dict,
) -> tuple[np.ndarray, dict]:
    """Train one classifier and return the probability of every row and a training record.

    Parameters
    ----------
    cutouts : ndarray, shape (N, C, npix, npix), float32
        The channel set's cutouts.
    labels : ndarray of int, shape (N,)
    rows : dict
        Row numbers of the ``train`` and ``validation`` stripes (both classes in each).
    training : dict
        Config ``kosiba.cnn``.
    augment : bool
        Random flips and quarter turns of the training cutouts.
    stream : int
        Seed of torch and of the training batches.
    device : Device
    workdir : Path
        The run's training state (claimed with ``fingerprint``).
    """
    claim_directory(workdir, fingerprint, "Kosiba CNN")
    L.seed_everything(stream, workers=True, verbose=False)
    mean, std = band_statistics(cutouts, rows["train"])
    std = np.where(std > 0, std, 1.0)
    module = KosibaClassifier(cutouts.shape[1], cutouts.shape[2], mean.tolist(), std.tolist(), training)
    trainer, best, _ = step_trainer(workdir, device, training)
    data = VettingDataModule(
        LabelledCutouts(cutouts, labels),
        rows["train"],
        rows["validation"],
        {**training, "augment": augment},
        stream,
    )
    resume = workdir / "last.ckpt"
    trainer.fit(module, datamodule=data, ckpt_path=resume if resume.exists() else None)
    model = KosibaClassifier.load_from_checkpoint(best.best_model_path, map_location="cpu").to(
        "cuda" if device.accelerator == "gpu" else "cpu"
    )
    logits = predict_logits(model, cutouts, training["batch_size"])
    record = {
        "steps": int(trainer.global_step),
        "best_validation_loss": float(best.best_model_score),
        "best_checkpoint": Path(best.best_model_path).name,
    }
    return 1.0 / (1.0 + np.exp(-logits)), record


def run_fingerprint(
    training: dict, augment: bool, channels: list, stream: int, device: Device, inputs: dict
) -> dict:
    """Everything one Kosiba run's result depends on (JSON-able)."""
    return {
        "kosiba_cnn": training,
        "augment": augment,
        "channels": channels,
        "stream": stream,
        "device": asdict(device),
        "inputs": inputs,
        "versions": {"torch": torch.__version__, "lightning": L.__version__},
    }


def split_rows(data: pd.DataFrame) -> dict:
    """Row numbers of each RA stripe; the training and validation stripes must hold both classes."""
    split, label = data["split"].to_numpy(), data["label"].to_numpy(int)
    rows = {s: np.flatnonzero(split == s) for s in ("train", "validation", "test")}
    for s in ("train", "validation"):
        if np.unique(label[rows[s]]).size < 2:
            raise io.InputFileError(
                f"the {s} stripe's Kosiba candidates hold one class only; raise kosiba.max_candidates"
            )
    return rows


def run_kosiba_train(
    *,
    kosiba_cnn: dict,
    seeds: int,
    accelerator: str,
    seed: int,
    channels: str,
    augment: str,
    data,
    cutouts,
    workdir,
    scores,
    runs,
) -> None:
    """Train the Kosiba classifier of one channel set ``seeds`` times; score every candidate.

    Parameters
    ----------
    kosiba_cnn : dict
        Config ``kosiba.cnn``.
    seeds : int
        Config ``kosiba.seeds``: independent runs (run k: torch seed from stream ``kosiba_cnn/<k>``).
    accelerator : str
        Config ``cnn.accelerator``.
    seed : int
        Run seed.
    channels : str
        Channel set, one of :data:`skyhunt.multiwave.channels.CHANNEL_SETS`.
    augment : {"aug", "noaug"}
        Random flips and quarter turns of the training cutouts, or none.
    data, cutouts : path-like
        The Kosiba dataset (``kosiba_data``).
    workdir : path-like
        Training state, one directory per run, reused under the same fingerprint.
    scores, runs : path-like
        Outputs: the probability of every candidate per run (:data:`SCORE_UNITS`) and the per-run
        test metrics at the validation threshold (CSV, :data:`RUN_COLUMNS`).
    """
    table, x, names = read_kosiba_data(data, cutouts)
    picked = channel_indices(names, channels)
    x = np.ascontiguousarray(x[:, picked])
    rows = split_rows(table)
    label = table["label"].to_numpy(int)
    aug = {"aug": True, "noaug": False}[augment]
    device = Device.detect(accelerator)
    inputs = {"data": file_sha256(data), "cutouts": file_sha256(cutouts)}
    out, records = [], []
    for k in range(int(seeds)):
        stream = seed_stream(seed, k)
        t0 = time.perf_counter()
        fp = run_fingerprint(kosiba_cnn, aug, [names[i] for i in picked], stream, device, inputs)
        p, record = train_and_score(
            x, label, rows, kosiba_cnn, aug, stream, device, Path(workdir) / f"run{k}", fp
        )
        threshold = accuracy_threshold(p[rows["validation"]], label[rows["validation"]])
        test = classification_metrics(p[rows["test"]], label[rows["test"]], threshold)
        records.append(
            {"channels": channels, "augment": aug, "seed": k, "threshold": threshold, **test, **record}
        )
        out.append(
            pd.DataFrame(
                {
                    "candidate": table["candidate"],
                    "split": table["split"],
                    "label": label,
                    "seed": k,
                    "probability": p,
                }
            )
        )
        log.info(
            "%s %s run %d: %d steps in %.1f s; test %s",
            channels,
            augment,
            k,
            record["steps"],
            time.perf_counter() - t0,
            {m: round(test[m], 3) for m in METRICS},
        )
    s = pd.concat(out, ignore_index=True)
    io.write_table(
        scores,
        {c: s[c].to_numpy() for c in SCORE_UNITS},
        SCORE_UNITS,
        meta={"channels": channels, "augment": aug},
    )
    with io.atomic_output(runs) as tmp:
        pd.DataFrame(records)[list(RUN_COLUMNS)].to_csv(tmp, index=False)
