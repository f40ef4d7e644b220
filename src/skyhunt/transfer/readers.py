"""Checked readers of the transfer study's tables (no torch)."""

from __future__ import annotations

import pandas as pd

from skyhunt import io

#: Units of a score table of the transfer study (zero-shot, fine-tuned or from scratch).
TRANSFER_SCORE_UNITS = {"row": "", "raw_score": "log-odds"}

#: Units of the per-pair metrics table.
TRANSFER_METRIC_UNITS = {
    "pair": "",
    "method": "",
    "n_labelled": "",
    "seed": "",
    "n_positives": "",
    "threshold": "score of the method (CNN log-odds, MF SNR)",
    "f1": "",
    "auc": "",
    "precision": "",
    "recall": "",
    "tp": "",
    "fp": "",
    "fn": "",
    "tn": "",
}


def read_transfer_scores(path) -> tuple[pd.DataFrame, dict]:
    """(scores, metadata) of a transfer score table; its ``threshold`` is in the metadata."""
    table = io.read_checked_table(path, tuple(TRANSFER_SCORE_UNITS))
    meta = io.read_table_meta(path)
    if "threshold" not in meta:
        raise io.InputFileError(f"{path}: no threshold in its metadata; rerun the transfer rules")
    return table, meta


def read_transfer_metrics(path) -> pd.DataFrame:
    """The metrics table of ``transfer_metrics`` (columns of :data:`TRANSFER_METRIC_UNITS`)."""
    return io.read_checked_table(path, tuple(TRANSFER_METRIC_UNITS))
