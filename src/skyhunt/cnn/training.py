"""The dynamic stratified oversampling ladder of DeepSZ section 2.2.2.

The ladder's steps are called *rungs* here (the noise stages of the sky are something else).
For r = r_start, ..., r_stop: train on S_r, validating on the oversampled validation set every
``eval_every_batches`` batches; stop the rung when the validation loss has not improved for
``patience_batches``; keep the rung's best weights, score the full validation set with them,
and start the next rung from them. Finally pick the rung whose weights give the highest F1 on
the full validation set (at their own best threshold).

Each rung lives in its own directory ``r<r>``:

- ``fingerprint.json``: everything the rung's result depends on (:func:`rung_fingerprint`).
  A rung directory is reused only if it matches; otherwise it and the later rungs are deleted
  and trained afresh.
- ``last.ckpt``, written at every evaluation (one Lightning epoch is ``eval_every_batches``
  batches), and ``best.ckpt``, the lowest oversampled-validation loss so far. The history rows
  logged so far travel inside the checkpoints, so a killed run resumes with exactly the rows,
  batches and weights of an uninterrupted one.
- ``history.csv`` and ``rung.json``, written when the rung finishes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from dataclasses import asdict
from io import BytesIO
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger

from skyhunt import io
from skyhunt.cnn.data import band_statistics
from skyhunt.cnn.datamodule import CutoutDataModule
from skyhunt.cnn.device import Device
from skyhunt.cnn.module import CutoutClassifier, model_summary
from skyhunt.cnn.readers import HISTORY_COLUMNS
from skyhunt.cnn.scoring import predict_scores
from skyhunt.metrics import f1_curve

log = logging.getLogger("skyhunt.cnn")

#: Keys of config ``cnn`` that do not change a rung's result: which noise stages get a model,
#: the display, and the accelerator request (the device it resolves to is fingerprinted instead).
UNFINGERPRINTED_KEYS = ("stages", "progress_bar", "accelerator")


def rung_seed(seed: int, ratio: int) -> int:
    """The seed of rung r, derived from the run seed (independent streams per rung)."""
    return int(np.random.SeedSequence([seed, ratio]).generate_state(1)[0])


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes (hex), read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def rung_fingerprint(cnn: dict, seed: int, ratio: int, device: Device, inputs: dict, previous) -> dict:
    """Everything that determines the result of rung r, as a JSON-able dict.

    Parameters
    ----------
    cnn : dict
        Validated config section ``cnn``; all of it except :data:`UNFINGERPRINTED_KEYS` and the
        ladder's ends ``training.ratio_start`` and ``training.ratio_stop`` (rung r does not
        depend on how many rungs follow it, and where it starts from is ``previous``).
    seed : int
        Run seed (config ``seed``).
    ratio : int
        The rung's ratio r.
    device : Device
        Where it trains (accelerator, precision, memory format).
    inputs : dict
        SHA-256 of the cutout array and of the index (``array_sha256``, ``index_sha256``).
    previous : str or None
        Digest of the previous rung's fingerprint, whose best weights this rung starts from;
        None for the first rung.

    Returns
    -------
    dict
        The fingerprint; with torch's and Lightning's versions, which can change the numbers.
    """
    config = {k: v for k, v in cnn.items() if k not in UNFINGERPRINTED_KEYS}
    config["training"] = {k: v for k, v in cnn["training"].items() if k not in ("ratio_start", "ratio_stop")}
    return {
        "cnn": config,
        "seed": seed,
        "ratio": ratio,
        "device": asdict(device),
        "inputs": inputs,
        "previous_rung": previous,
        "versions": {"torch": torch.__version__, "lightning": L.__version__},
    }


def fingerprint_digest(fingerprint: dict) -> str:
    """SHA-256 (hex) of a fingerprint's canonical JSON."""
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def run_train_cnn(
    *,
    cnn: dict,
    seed: int,
    array,
    index,
    workdir,
    model,
    history,
    summary,
    progress_bar: bool = False,
    callbacks=(),
) -> None:
    """Run the whole ratio ladder for one noise stage and write the chosen model.

    Parameters
    ----------
    cnn : dict
        Validated config section ``cnn`` (``stages`` and ``progress_bar`` are not read).
    seed : int
        Run seed (config ``seed``).
    array, index : path-like
        The noise stage's cutouts and the shared cutout index.
    workdir : path-like
        Directory for the rungs' checkpoints and logs; kept between runs so that training
        resumes (only from rungs whose fingerprint matches, see :func:`rung_fingerprint`).
    model : path-like
        Output: the chosen rung's Lightning checkpoint.
    history : path-like
        Output: CSV training history (:data:`HISTORY_COLUMNS`).
    summary : path-like
        Output: JSON with every rung's result (``rungs``) and the chosen ratio.
    progress_bar : bool
        Lightning's progress bar (config ``cnn.progress_bar``; display only, so not a rule param
        and not in the fingerprint).
    callbacks : sequence of lightning.Callback
        Extra callbacks for every rung's Trainer (monitoring, profiling).
    """
    training, workdir = cnn["training"], Path(workdir)
    device = Device.detect(cnn["accelerator"])
    data = CutoutDataModule(
        array, index, training["batch_size"], training["eval_every_batches"], training["augment"]
    )
    t0 = time.perf_counter()
    inputs = {"array_sha256": file_sha256(array), "index_sha256": file_sha256(index)}
    log.debug("hashed the inputs in %.1f s", time.perf_counter() - t0)
    records, previous, previous_digest = [], None, None
    for ratio in range(training["ratio_start"], training["ratio_stop"] + 1):
        rung_dir = workdir / f"r{ratio:02d}"
        fingerprint = rung_fingerprint(cnn, seed, ratio, device, inputs, previous_digest)
        _claim_rung_dir(workdir, rung_dir, ratio, fingerprint)
        record = _run_rung(cnn, seed, ratio, data, rung_dir, previous, device, progress_bar, callbacks)
        records.append(record)
        previous, previous_digest = rung_dir / record["checkpoint"], fingerprint_digest(fingerprint)
    chosen = max(records, key=lambda r: r["validation_f1"])  # first maximum: the lowest such ratio
    log.info(
        "chose r = %d: full-validation F1 %.3f at score %.3f",
        chosen["ratio"],
        chosen["validation_f1"],
        chosen["threshold"],
    )
    export_model(workdir / f"r{chosen['ratio']:02d}" / chosen["checkpoint"], model, chosen)
    offsets = np.cumsum([0] + [r["batches"] for r in records[:-1]])
    parts = [
        _rung_history(workdir / f"r{r['ratio']:02d}", r["ratio"], o)
        for r, o in zip(records, offsets, strict=True)
    ]
    with io.atomic_output(history) as tmp:
        pd.concat(parts, ignore_index=True).to_csv(tmp, index=False)
    result = {"chosen_ratio": chosen["ratio"], "device": asdict(device), "rungs": records}
    with io.atomic_output(summary) as tmp:
        tmp.write_text(json.dumps(result, indent=1))


def _claim_rung_dir(workdir: Path, rung_dir: Path, ratio: int, fingerprint: dict) -> None:
    """Keep ``rung_dir`` if it was made with ``fingerprint``; else delete it and the later rungs'
    directories (logging why) and start it afresh with ``fingerprint.json``."""
    later = [
        d
        for d in (workdir.iterdir() if workdir.is_dir() else ())
        if d.is_dir() and d != rung_dir and (m := re.fullmatch(r"r(\d+)", d.name)) and int(m.group(1)) > ratio
    ]
    claim_directory(rung_dir, fingerprint, f"r = {ratio}", later)


def claim_directory(directory: Path, fingerprint: dict, label: str, later=()) -> None:
    """Keep ``directory`` if its ``fingerprint.json`` equals ``fingerprint``; else delete it and the
    directories ``later`` (which depend on it), logging why, and start it afresh with the
    fingerprint.

    Parameters
    ----------
    directory : Path
        A training state directory (a rung of the ratio ladder, the detector's checkpoints).
    fingerprint : dict
        Everything its result depends on (JSON-able).
    label : str
        What the directory holds, for the log line.
    later : sequence of Path
        Directories deleted with it when it does not match.
    """
    path = directory / "fingerprint.json"
    canonical = json.loads(json.dumps(fingerprint))
    if directory.exists():
        try:
            recorded = json.loads(path.read_text())
        except (OSError, ValueError):
            recorded = None
        if recorded == canonical:
            return
        why = (
            "no readable fingerprint.json"
            if recorded is None
            else "; ".join(_differences(recorded, canonical))
        )
        log.info(
            "%s: %s does not match this run (%s); deleting it%s and training afresh",
            label,
            directory,
            why,
            f" and {len(later)} later rung(s)" if later else "",
        )
        for d in (directory, *later):
            shutil.rmtree(d)
    directory.mkdir(parents=True)
    with io.atomic_output(path) as tmp:
        tmp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True))


def _differences(old, new, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf where two nested dicts differ (dotted keys)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            line
            for key in sorted(set(old) | set(new), key=str)
            for line in _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        ]
    return [] if old == new else [f"{prefix[:-1]}: {old!r} -> {new!r}"]


class RungHistory(Logger, Callback):
    """The training history of one rung: a Lightning logger that keeps its rows in the rung's
    checkpoints.

    As a logger it turns Lightning's logged metrics into rows ``batch, split, *metrics`` (by
    default loss, accuracy, balanced_accuracy; batch counted from the start of the rung). As a
    callback its rows, and whether early stopping had already ended the rung, are part of every
    checkpoint, so a rung resumed from ``last.ckpt`` continues with exactly the rows it had at
    that checkpoint and does not train on after the stop.
    """

    METRICS = ("loss", "accuracy", "balanced_accuracy")

    def __init__(self, metrics=METRICS):
        super().__init__()
        self.metrics = tuple(metrics)
        self.rows: list[dict] = []
        self.resumed_stopped = False
        self.trainer = None

    @property
    def name(self) -> str:
        return "history"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        """Nothing to record: the hyper-parameters are in the checkpoints."""

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        """Add a row per split whose per-batch loss is in ``metrics`` (logged after batch ``step``)."""
        for split, suffix in (("train", "_step"), ("val", "")):
            if f"{split}_loss{suffix}" in metrics:
                values = {m: float(metrics[f"{split}_{m}{suffix}"]) for m in self.metrics}
                self.rows.append({"batch": step, "split": split, **values})

    def setup(self, trainer, pl_module, stage) -> None:
        self.trainer = trainer

    def state_dict(self) -> dict:
        # called while a checkpoint is written, after early stopping has decided at this epoch
        return {"rows": list(self.rows), "stopped": bool(self.trainer.should_stop)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows, self.resumed_stopped = list(state_dict["rows"]), state_dict["stopped"]

    def on_train_start(self, trainer, pl_module) -> None:
        if self.resumed_stopped:
            trainer.should_stop = True

    def table(self) -> pd.DataFrame:
        """The rows so far, sorted by batch, train before validation."""
        columns = ["batch", "split", *self.metrics]
        return pd.DataFrame(self.rows, columns=columns).sort_values(["batch", "split"], kind="stable")


def new_classifier(cnn: dict, array: np.ndarray, rows: np.ndarray, channels_last: bool) -> CutoutClassifier:
    """A freshly initialised classifier of config ``cnn`` (``architecture``, ``optimizer``) for the
    cutouts of ``array`` (n, bands, npix, npix), its input scaled by the per-band mean and
    standard deviation of ``array[rows]`` (the training cutouts)."""
    mean, std = band_statistics(array, rows)
    return CutoutClassifier(
        cnn["architecture"],
        array.shape[1],
        array.shape[2],
        mean.tolist(),
        std.tolist(),
        cnn["optimizer"],
        channels_last,
    )


def _run_rung(cnn, seed, ratio, data, rung_dir: Path, previous, device, progress_bar, callbacks) -> dict:
    """Train one rung (or read its result if it already finished) and return its record."""
    done = rung_dir / "rung.json"
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
    rseed = rung_seed(seed, ratio)
    L.seed_everything(rseed, workers=True, verbose=False)
    data.set_rung(ratio, rseed)
    if previous is None:
        module = new_classifier(cnn, data.array, data.rows.train, device.channels_last)
    else:
        module = CutoutClassifier.load_from_checkpoint(previous, map_location="cpu")
    best, last = best_and_last(rung_dir)
    stopper = EarlyStopping(
        monitor="val_loss",
        mode="min",
        patience=training["patience_batches"] // every,
        check_on_train_epoch_end=True,
    )
    history = RungHistory()
    trainer = L.Trainer(
        max_epochs=training["max_batches_per_ratio"] // every,
        accelerator=device.accelerator,
        devices=1,
        precision=device.precision,
        deterministic=True,
        callbacks=[best, last, stopper, history, *callbacks],
        logger=history,
        log_every_n_steps=training["log_every_batches"],
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=progress_bar,
        default_root_dir=rung_dir,
    )
    resume = rung_dir / "last.ckpt"
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
    chosen = CutoutClassifier.load_from_checkpoint(best.best_model_path, map_location=module.device)
    labels = data.index["label"].to_numpy(bool)
    try:
        scores = predict_scores(chosen, data.array, data.rows.validation, training["batch_size"])
    except ValueError as err:
        raise RuntimeError(
            f"r = {ratio}: on the validation cutouts, {err}; training diverged (try a lower cnn.optimizer.lr)"
        ) from err
    threshold, f1 = f1_curve(scores, labels[data.rows.validation]).best
    record = {
        "ratio": ratio,
        "batches": int(trainer.global_step),
        "best_validation_loss": float(best.best_model_score),
        "validation_f1": f1,
        "threshold": threshold,
        "checkpoint": Path(best.best_model_path).name,
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
    with io.atomic_output(rung_dir / "history.csv") as tmp:
        history.table().to_csv(tmp, index=False)
    with io.atomic_output(done) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return record


def export_model(checkpoint, model_path, record: dict) -> None:
    """Write the chosen weights as a minimal Lightning checkpoint (hyper-parameters, weights and
    the rung's record; no optimiser state or machine-specific paths), atomically.

    ``CutoutClassifier.load_from_checkpoint(model_path)`` reads it back.
    """
    full = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = {key: full[key] for key in ("pytorch-lightning_version", "hyper_parameters", "state_dict")}
    model["skyhunt"] = {k: v for k, v in record.items() if k != "checkpoint"}
    buffer = BytesIO()  # not the file: torch.save names the archive after it, and tmp names are random
    torch.save(model, buffer)
    with io.atomic_output(model_path) as tmp:
        tmp.write_bytes(buffer.getvalue())


class MovableCheckpoint(ModelCheckpoint):
    """:class:`ModelCheckpoint` whose saved state follows its directory when a training's work
    directory has been moved or copied (a results folder taken to another disk or machine).

    Lightning restores the best score and the top-k record only when the saved ``dirpath`` is the
    current one, and otherwise keeps the old folder's best path: a moved training would then
    resume with no best score, take its next evaluation as the best whatever its loss, and end on
    another model than an unmoved one (or fail on a finished one). Here the saved paths are
    re-anchored in the current directory first."""

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict.get("dirpath")
        if saved and self.dirpath and saved != self.dirpath:

            def here(path: str) -> str:
                return str(Path(self.dirpath) / Path(path).relative_to(saved)) if path else path

            state_dict = {
                **state_dict,
                "dirpath": self.dirpath,
                "best_model_path": here(state_dict["best_model_path"]),
                "kth_best_model_path": here(state_dict.get("kth_best_model_path", "")),
                "last_model_path": here(state_dict.get("last_model_path", "")),
                "best_k_models": {here(p): v for p, v in state_dict.get("best_k_models", {}).items()},
            }
        super().load_state_dict(state_dict)


def best_and_last(dirpath: Path) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """The two checkpoints of a training in ``dirpath``: ``best.ckpt`` (lowest ``val_loss``) and
    ``last.ckpt``, written at every evaluation after ``best`` has updated (its state is in it),
    to resume from. Both may be moved with their directory (:class:`MovableCheckpoint`)."""
    best = MovableCheckpoint(
        dirpath=dirpath,
        filename="best",
        monitor="val_loss",
        mode="min",
        save_top_k=1,
        save_on_train_epoch_end=True,
    )
    last = MovableCheckpoint(
        dirpath=dirpath, filename="last", enable_version_counter=False, save_on_train_epoch_end=True
    )
    return best, last


def step_trainer(workdir: Path, device: Device, training: dict, callbacks=()):
    """A deterministic trainer of ``steps // eval_every_steps`` epochs that keeps, in ``workdir``,
    the best checkpoint (lowest ``val_loss``) and the last one (to resume from), and records
    the loss history (the detector and the CNN mass network).

    Parameters
    ----------
    workdir : Path
        The training's scratch directory (already claimed with :func:`claim_directory`).
    device : Device
    training : dict
        Config with ``steps``, ``eval_every_steps`` and ``log_every_steps``.
    callbacks : sequence of Callback
        Extra callbacks (tests use one to kill a run mid-way).

    Returns
    -------
    trainer : lightning.Trainer
    best : ModelCheckpoint
        Its ``best_model_path`` and ``best_model_score`` after ``fit``.
    rows : RungHistory
        The logged losses (``rows.table()``).
    """
    best, last = best_and_last(workdir)
    rows = RungHistory(metrics=("loss",))
    trainer = L.Trainer(
        max_epochs=training["steps"] // training["eval_every_steps"],
        accelerator=device.accelerator,
        devices=1,
        precision=device.precision,
        deterministic=True,
        callbacks=[best, last, rows, *callbacks],
        logger=rows,
        log_every_n_steps=training["log_every_steps"],
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=False,
        default_root_dir=workdir,
    )
    return trainer, best, rows


def write_training_outputs(best: ModelCheckpoint, rows, record: dict, device: dict, model, history, summary):
    """The outputs of a :func:`step_trainer` run: the best weights (:func:`export_model`), the loss
    history (CSV) and the summary (JSON: ``record`` and the device), each atomically."""
    export_model(best.best_model_path, model, record)
    with io.atomic_output(history) as tmp:
        rows.table().to_csv(tmp, index=False)
    with io.atomic_output(summary) as tmp:
        tmp.write_text(json.dumps({**record, "device": device}, indent=1))


def _rung_history(rung_dir: Path, ratio: int, offset: int) -> pd.DataFrame:
    """The rung's ``history.csv`` as rows of :data:`HISTORY_COLUMNS`; ``offset`` batches ran before it."""
    out = pd.read_csv(rung_dir / "history.csv")
    out["ratio"] = ratio
    out["batch"] += offset
    return out[list(HISTORY_COLUMNS)]
