"""Test-stripe metrics of the transfer study: F1 at a fixed threshold, ROC AUC, the confusion
matrix, and their spread over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def stripe_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """F1, precision, recall and the confusion counts of "positive if score >= threshold", and
    the ROC AUC (threshold-free; NaN with one class only).

    Parameters
    ----------
    scores : ndarray
        Scores of the test cutouts (larger: more likely a cluster).
    labels : ndarray of bool
        Their truth.
    threshold : float
        Chosen without the test labels (validation stripe, or the source's).
    """
    labels = np.asarray(labels, dtype=bool)
    predicted = np.asarray(scores) >= threshold
    tp, fp = int((predicted & labels).sum()), int((predicted & ~labels).sum())
    fn, tn = int((~predicted & labels).sum()), int((~predicted & ~labels).sum())
    both = labels.any() and not labels.all()
    return {
        "threshold": float(threshold),
        "f1": 2 * tp / max(2 * tp + fp + fn, 1),
        "auc": float(roc_auc_score(labels, scores)) if both else float("nan"),
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof 1; 0 for one value) and range over seeds of test F1
    and AUC, per pair, method and N (in the order they first appear)."""
    keys = ["pair", "method", "n_labelled"]
    grouped = metrics.groupby(keys, sort=False)
    out = grouped.agg(
        seeds=("seed", "size"),
        n_positives=("n_positives", "median"),
        f1_mean=("f1", "mean"),
        f1_std=("f1", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        f1_min=("f1", "min"),
        f1_max=("f1", "max"),
        auc_mean=("auc", "mean"),
        auc_std=("auc", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
    )
    return out.reset_index()


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table: F1 and AUC as mean ± sd [min, max] over seeds."""
    lines = [
        "| pair | method | N | seeds | test F1 | F1 range | test AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples(index=False):
        lines.append(
            f"| {r.pair} | {r.method} | {r.n_labelled or '—'} | {r.seeds} | "
            f"{r.f1_mean:.3f} ± {r.f1_std:.3f} | [{r.f1_min:.3f}, {r.f1_max:.3f}] | "
            f"{r.auc_mean:.3f} ± {r.auc_std:.3f} |"
        )
    return "\n".join(lines) + "\n"
