"""The dynamic stratified oversampling ladder of DeepSZ section 2.2.2.

For r = r_start, ..., r_stop: train on S_r, validating on the oversampled validation set every
``eval_every_batches`` batches; stop the stage when the validation loss has not improved for
``patience_batches``; keep the stage's best weights, score the full validation set with them,
and start the next stage from them. Finally pick the stage whose weights give the highest F1 on
the full validation set (at their own best threshold).

Each stage lives in its own directory with Lightning's ``last.ckpt`` (written at every epoch
end, where one epoch is ``eval_every_batches`` batches) and a ``stage.json`` written when the
stage finishes, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from skyhunt import io
from skyhunt.cnn.data import CutoutDataModule, band_statistics, in_batches
from skyhunt.cnn.module import CutoutClassifier, model_summary
from skyhunt.metrics import f1_curve

log = logging.getLogger("skyhunt.cnn")

#: Columns of the training history (DeepSZ Fig. 4), one row per logged batch and split.
HISTORY_COLUMNS = ("batch", "ratio", "split", "loss", "accuracy", "balanced_accuracy")


@dataclass(frozen=True)
class Device:
    """Where and how to train: accelerator, numeric precision, memory format."""

    accelerator: str
    precision: str
    channels_last: bool

    @classmethod
    def detect(cls, accelerator: str = "auto") -> Device:
        """GPU with bf16/fp16 mixed precision and channels-last when one is present, else CPU fp32."""
        if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
            precision = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
            return cls("gpu", precision, True)
        if accelerator in ("gpu", "cuda"):
            raise RuntimeError("config asks for a GPU (cnn.accelerator) but torch sees none")
        return cls("cpu", "32-true", False)


def stage_seed(seed: int, ratio: int) -> int:
    """The seed of ratio stage r, derived from the run seed (independent streams per stage)."""
    return int(np.random.SeedSequence([seed, ratio]).generate_state(1)[0])


@torch.inference_mode()
def predict_scores(
    module: CutoutClassifier, array: np.ndarray, rows: np.ndarray, batch_size: int
) -> np.ndarray:
    """Raw scores (log-odds of the positive class) of ``array[rows]``, in row order."""
    module.eval()
    out = []
    for batch_rows, _ in in_batches(np.asarray(rows), batch_size):
        x = torch.from_numpy(np.asarray(array[batch_rows], dtype=np.float32)).to(module.device)
        with torch.autocast(module.device.type, enabled=module.device.type == "cuda"):
            out.append(module.predict_step((x,), 0).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_ladder(
    cnn: dict,
    seed: int,
    array_path,
    index_path,
    workdir,
    model_path,
    history_path,
    summary_path,
    callbacks=(),
):
    """Run the whole ratio ladder for one noise stage and write the chosen model.

    Parameters
    ----------
    cnn : dict
        Validated config section ``cnn``.
    seed : int
        Run seed (config ``seed``).
    array_path, index_path : path-like
        The stage's cutouts and the shared cutout index.
    workdir : path-like
        Directory for per-ratio checkpoints and logs; kept between runs so that training resumes.
    model_path : path-like
        Output: the chosen stage's Lightning checkpoint.
    history_path : path-like
        Output: CSV training history (:data:`HISTORY_COLUMNS`).
    summary_path : path-like
        Output: JSON with every ratio stage's result and the chosen one.
    callbacks : sequence of lightning.Callback
        Extra callbacks for every stage's Trainer (monitoring, profiling).
    """
    training, workdir = cnn["training"], Path(workdir)
    device = Device.detect(cnn["accelerator"])
    data = CutoutDataModule(
        array_path, index_path, training["batch_size"], training["eval_every_batches"], training["augment"]
    )
    records, previous = [], None
    for ratio in range(training["ratio_start"], training["ratio_stop"] + 1):
        stage_dir = workdir / f"r{ratio:02d}"
        record = _run_stage(cnn, seed, ratio, data, stage_dir, previous, device, callbacks)
        records.append(record)
        previous = workdir / f"r{ratio:02d}" / record["checkpoint"]
    chosen = max(records, key=lambda r: r["validation_f1"])  # first maximum: the lowest such ratio
    log.info(
        "chose r = %d: full-validation F1 %.3f at score %.3f",
        chosen["ratio"],
        chosen["validation_f1"],
        chosen["threshold"],
    )
    export_model(workdir / f"r{chosen['ratio']:02d}" / chosen["checkpoint"], model_path, chosen)
    offsets = np.cumsum([0] + [r["batches"] for r in records[:-1]])
    parts = [
        _stage_history(workdir / f"r{r['ratio']:02d}", r["ratio"], o)
        for r, o in zip(records, offsets, strict=True)
    ]
    history = pd.concat(parts, ignore_index=True)
    with io.atomic_output(history_path) as tmp:
        history.to_csv(tmp, index=False)
    summary = {"chosen_ratio": chosen["ratio"], "device": device.__dict__, "stages": records}
    with io.atomic_output(summary_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))


def _run_stage(cnn, seed, ratio, data, stage_dir: Path, previous, device, callbacks) -> dict:
    """Train one ratio stage (or read its result if it already finished) and return its record."""
    done = stage_dir / "stage.json"
    if done.exists():
        record = json.loads(done.read_text())
        log.info(
            "r = %d: finished earlier (%d batches), F1 %.3f",
            ratio,
            record["batches"],
            record["validation_f1"],
        )
        return record
    training = cnn["training"]
    every = training["eval_every_batches"]
    sseed = stage_seed(seed, ratio)
    L.seed_everything(sseed, workers=True, verbose=False)
    data.set_stage(ratio, sseed)
    if previous is None:
        mean, std = band_statistics(data.array, data.rows.train)
        module = CutoutClassifier(
            cnn["architecture"],
            data.array.shape[1],
            data.array.shape[2],
            mean.tolist(),
            std.tolist(),
            cnn["optimizer"],
            device.channels_last,
        )
    else:
        module = CutoutClassifier.load_from_checkpoint(previous, map_location="cpu")
    checkpoint = ModelCheckpoint(
        dirpath=stage_dir,
        filename="best",
        monitor="val_loss",
        mode="min",
        save_top_k=1,
        save_last=True,
        save_on_train_epoch_end=True,
    )
    stopper = EarlyStopping(
        monitor="val_loss",
        mode="min",
        patience=training["patience_batches"] // every,
        check_on_train_epoch_end=True,
    )
    trainer = L.Trainer(
        max_epochs=training["max_batches_per_ratio"] // every,
        accelerator=device.accelerator,
        devices=1,
        precision=device.precision,
        deterministic=True,
        callbacks=[checkpoint, stopper, *callbacks],
        logger=CSVLogger(stage_dir, name="", version="logs"),
        log_every_n_steps=training["log_every_batches"],
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=cnn["progress_bar"],
        default_root_dir=stage_dir,
    )
    resume = stage_dir / "last.ckpt"
    t0 = time.perf_counter()
    if resume.exists():
        log.info("r = %d: resuming from %s", ratio, resume)
    else:
        log.info(
            "r = %d: training %s on %s (%s)",
            ratio,
            model_summary(module),
            device.accelerator,
            device.precision,
        )
    trainer.fit(module, datamodule=data, ckpt_path=resume if resume.exists() else None)
    best = CutoutClassifier.load_from_checkpoint(checkpoint.best_model_path, map_location=module.device)
    labels = data.index["label"].to_numpy(bool)
    scores = predict_scores(best, data.array, data.rows.validation, training["batch_size"])
    threshold, f1 = f1_curve(scores, labels[data.rows.validation]).best
    record = {
        "ratio": ratio,
        "batches": int(trainer.global_step),
        "best_validation_loss": float(checkpoint.best_model_score),
        "validation_f1": f1,
        "threshold": threshold,
        "checkpoint": Path(checkpoint.best_model_path).name,
    }
    log.info(
        "r = %d: stopped after %d batches (%.0f s); best oversampled-validation loss %.4f; "
        "full-validation F1 %.3f at score %.3f",
        ratio,
        record["batches"],
        time.perf_counter() - t0,
        record["best_validation_loss"],
        f1,
        threshold,
    )
    with io.atomic_output(done) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return record


def export_model(checkpoint, model_path, record: dict) -> None:
    """Write the chosen weights as a minimal Lightning checkpoint (hyper-parameters, weights and
    the ratio-stage record; no optimiser state or machine-specific paths), atomically.

    ``CutoutClassifier.load_from_checkpoint(model_path)`` reads it back.
    """
    full = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = {key: full[key] for key in ("pytorch-lightning_version", "hyper_parameters", "state_dict")}
    model["skyhunt"] = {k: v for k, v in record.items() if k != "checkpoint"}
    buffer = BytesIO()  # not the file: torch.save names the archive after it, and tmp names are random
    torch.save(model, buffer)
    with io.atomic_output(model_path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def _stage_history(stage_dir: Path, ratio: int, offset: int) -> pd.DataFrame:
    """The stage's Lightning CSV log as rows of :data:`HISTORY_COLUMNS`; ``offset`` batches ran before it."""
    metrics = pd.read_csv(stage_dir / "logs" / "metrics.csv")
    parts = []
    for split, suffix in (("train", "_step"), ("val", "")):
        cols = {f"{split}_{m}{suffix}": m for m in ("loss", "accuracy", "balanced_accuracy")}
        part = metrics.dropna(subset=[f"{split}_loss{suffix}"])[["step", *cols]].rename(columns=cols)
        parts.append(part.assign(split=split))
    out = pd.concat(parts).rename(columns={"step": "batch"})
    out["ratio"] = ratio
    out["batch"] += offset
    return out[list(HISTORY_COLUMNS)].sort_values(["batch", "split"], kind="stable")
