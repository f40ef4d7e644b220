"""Fine-tuning and training from scratch on N labelled target cutouts, with the CNN's own code
(:class:`skyhunt.cnn.module.CutoutClassifier`, :func:`skyhunt.cnn.training.step_trainer`).

Fine-tuning starts from the source's exported weights and per-band input scaling, with the
paper's schedule shortened as in DeepShadows (Tanoglidis et al. 2021, as reproduced by Foote: a lower learning
rate and fewer steps): every learning rate of the source's optimiser times ``lr_factor``, the
warm-up and the drop at the same fractions of ``steps`` as of a rung of the ratio ladder. From
scratch: a new network of ``cnn.architecture``, scaled with the labelled cutouts' band statistics,
with the full schedule of ``cnn.optimizer`` for ``scratch.steps``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import torch

from skyhunt.cnn.module import CutoutClassifier, model_summary
from skyhunt.cnn.scoring import predict_scores
from skyhunt.cnn.training import Device, claim_directory, new_classifier, step_trainer
from skyhunt.metrics import f1_curve
from skyhunt.transfer.data import LabelledDataModule

log = logging.getLogger("skyhunt.transfer")

#: The two ways to train on the labelled target cutouts.
MODES = ("fine_tune", "scratch")


def fine_tune_schedule(optimizer: dict, max_batches_per_ratio: int, fine_tune: dict) -> dict:
    """The source's optimiser config shortened for fine-tuning (DeepShadows): every learning rate
    times ``lr_factor``; warm-up and drop at the same fractions of ``steps`` as of
    ``max_batches_per_ratio``.

    Parameters
    ----------
    optimizer : dict
        The source model's ``cnn.optimizer`` (its hyper-parameters).
    max_batches_per_ratio : int
        Config ``cnn.training.max_batches_per_ratio``: the length of the schedule being shortened.
    fine_tune : dict
        Config ``transfer.fine_tune`` (``lr_factor``, ``steps``).
    """
    f, shorten = fine_tune["lr_factor"], fine_tune["steps"] / max_batches_per_ratio
    return {
        **optimizer,
        "lr_start": optimizer["lr_start"] * f,
        "lr": optimizer["lr"] * f,
        "lr_after_drop": optimizer["lr_after_drop"] * f,
        "warmup_batches": int(round(optimizer["warmup_batches"] * shorten)),
        "drop_after_batches": int(round(optimizer["drop_after_batches"] * shorten)),
    }


def initial_module(
    mode: str, source_model, cnn: dict, training: dict, fine_tune: dict, data, channels_last: bool
):
    """The network training starts from: the source's weights and scaling with the fine-tuning
    schedule (``fine_tune``), or a new one (``scratch``)."""
    if mode == "fine_tune":
        source = CutoutClassifier.load_from_checkpoint(source_model, map_location="cpu")
        schedule = fine_tune_schedule(
            dict(source.hparams.optimizer), training["max_batches_per_ratio"], fine_tune
        )
        # Lightning's keyword override of a saved hyper-parameter: same weights, new schedule
        return CutoutClassifier.load_from_checkpoint(
            source_model, map_location="cpu", optimizer=schedule, channels_last=channels_last
        )
    return new_classifier(cnn, data.array, np.concatenate([data.train_pos, data.train_neg]), channels_last)


def train_labelled(
    mode: str,
    source_model,
    cnn: dict,
    training: dict,
    transfer: dict,
    array,
    index,
    positives: np.ndarray,
    negatives: np.ndarray,
    seed: int,
    fingerprint: dict,
    workdir,
    callbacks=(),
) -> dict:
    """Train on the labelled target cutouts; return the validation and test scores of the best
    checkpoint (lowest oversampled-validation loss) and the threshold of best validation F1.

    Parameters
    ----------
    mode : str
        ``fine_tune`` or ``scratch``.
    source_model : path-like
        The source's exported classifier (``cnn/<stage>/model.ckpt``).
    cnn : dict
        Config ``cnn`` keys ``architecture``, ``accelerator``, ``optimizer``.
    training : dict
        Config ``cnn.training`` keys ``batch_size``, ``max_batches_per_ratio``, ``augment``.
    transfer : dict
        Config ``transfer`` (``ratio``, ``eval_every_steps``, ``log_every_steps``, ``fine_tune``,
        ``scratch``).
    array, index : path-like
        The target's cutouts and index.
    positives, negatives : ndarray of int
        The labelled training rows.
    seed : int
        The training's seed (``L.seed_everything`` and the batch streams).
    fingerprint : dict
        What the result depends on; ``workdir`` is reused (to resume) only under it.
    workdir : path-like
        Checkpoints (``best.ckpt``, ``last.ckpt``).
    callbacks : sequence of lightning.Callback
        Extra callbacks (a test reads the weights before the first step).

    Returns
    -------
    dict
        ``rows`` (validation then test rows), ``raw_score`` there, ``threshold`` (log-odds) and
        ``validation_f1``, ``best_validation_loss``, ``steps``.
    """
    workdir = Path(workdir)
    device = Device(**fingerprint["device"])
    claim_directory(workdir, fingerprint, f"transfer {mode}")
    steps = transfer[mode]["steps"]
    every = transfer["eval_every_steps"]
    data = LabelledDataModule(
        array, index, positives, negatives, training["batch_size"], every, training["augment"]
    )
    data.set_rung(transfer["ratio"], seed)
    L.seed_everything(seed, workers=True, verbose=False)
    module = initial_module(
        mode, source_model, cnn, training, transfer["fine_tune"], data, device.channels_last
    )
    schedule = {"steps": steps, "eval_every_steps": every, "log_every_steps": transfer["log_every_steps"]}
    trainer, best, _ = step_trainer(workdir, device, schedule, callbacks)
    resume = workdir / "last.ckpt"
    t0 = time.perf_counter()
    log.info(
        "%s: %s on %d positive and %d negative target cutouts, %d steps on %s",
        mode,
        model_summary(module),
        len(positives),
        len(negatives),
        steps,
        device.accelerator,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume if resume.exists() else None)
    chosen = CutoutClassifier.load_from_checkpoint(best.best_model_path, map_location="cpu")
    labels = data.index["label"].to_numpy(bool)
    validation, test = data.rows.validation, data.rows.test
    scores = predict_scores(chosen, data.array, np.concatenate([validation, test]), training["batch_size"])
    threshold, f1 = f1_curve(scores[: len(validation)], labels[validation]).best
    log.info(
        "%s: %d steps in %.0f s; best validation loss %.4f; target validation F1 %.3f at log-odds %.3f",
        mode,
        trainer.global_step,
        time.perf_counter() - t0,
        float(best.best_model_score),
        f1,
        threshold,
    )
    return {
        "rows": np.concatenate([validation, test]),
        "raw_score": scores.astype(np.float64),
        "threshold": threshold,
        "validation_f1": f1,
        "best_validation_loss": float(best.best_model_score),
        "steps": int(trainer.global_step),
        "device": asdict(device),
    }


def torch_versions() -> dict:
    """torch's and Lightning's versions (they can change the numbers; part of the fingerprint)."""
    return {"torch": torch.__version__, "lightning": L.__version__}
