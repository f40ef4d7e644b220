"""Reading the CNN stage's artifacts: the training history and summary (no torch needed).

Every reader fails with :class:`skyhunt.io.InputFileError` naming the file and what was expected.
"""

from __future__ import annotations

import json

import pandas as pd

from skyhunt import io

#: Columns of the training history (DeepSZ Fig. 4), one row per logged batch and split.
HISTORY_COLUMNS = ("batch", "ratio", "split", "loss", "accuracy", "balanced_accuracy")


def read_history(path) -> pd.DataFrame:
    """The CSV training history written by ``train_cnn`` (:data:`HISTORY_COLUMNS`), checked."""
    try:
        history = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise io.InputFileError(f"{path}: not a readable training history CSV ({err})") from err
    io.require_columns(history, HISTORY_COLUMNS, path)
    if history.empty or not set(history["split"]) <= {"train", "val"}:
        raise io.InputFileError(
            f"{path}: expected rows with split 'train' or 'val', got {set(history['split'])}"
        )
    return history


def read_summary(path) -> dict:
    """The ``training.json`` written by ``train_cnn``: ``chosen_ratio`` and one record per rung."""
    try:
        summary = json.loads(open(path, encoding="utf-8").read())
        rungs = summary["rungs"]
        if summary["chosen_ratio"] not in [s["ratio"] for s in rungs]:
            raise ValueError(f"chosen_ratio {summary['chosen_ratio']} is none of the rungs' ratios")
        for s in rungs:
            int(s["batches"]), float(s["best_validation_loss"]), float(s["validation_f1"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise io.InputFileError(f"{path}: not a training summary written by train_cnn ({err!r})") from err
    return summary
