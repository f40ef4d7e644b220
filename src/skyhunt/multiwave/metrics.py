"""Classification metrics of the Kosiba task and its table (Kosiba, the table of the CN-E runs:
accuracy A, precision P, recall R and AUC, each the mean ± std over the runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from skyhunt.multiwave.channels import CHANNEL_SETS

#: The metrics of each run, in table order.
METRICS = ("accuracy", "precision", "recall", "auc")

#: Table headings of the metrics, as Kosiba's.
HEADINGS = {"accuracy": "A", "precision": "P", "recall": "R", "auc": "AUC"}

#: Kosiba's values of the custom network (mean, std), for the README and the table's notes.
KOSIBA = {
    ("all", True): {
        "accuracy": (0.90, 0.03),
        "precision": (0.89, 0.05),
        "recall": (0.91, 0.03),
        "auc": (0.96, 0.01),
    },
    ("optical", True): {
        "accuracy": (0.68, 0.02),
        "precision": (0.64, 0.02),
        "recall": (0.85, 0.04),
        "auc": (0.77, 0.02),
    },
    ("xray", True): {
        "accuracy": (0.81, 0.01),
        "precision": (0.78, 0.03),
        "recall": (0.86, 0.04),
        "auc": (0.89, 0.01),
    },
    ("all", False): {
        "accuracy": (0.75, 0.02),
        "precision": (0.70, 0.02),
        "recall": (0.87, 0.03),
        "auc": (0.87, 0.01),
    },
}


def accuracy_threshold(probability: np.ndarray, label: np.ndarray) -> float:
    """The probability threshold (predict real at p >= t) of the highest accuracy on these rows;
    ties go to the threshold nearest 0.5 (+inf: predict every row spurious)."""
    p, y = np.asarray(probability, float), np.asarray(label, bool)
    candidates = np.append(np.unique(p), np.inf)
    acc = np.array([np.mean((p >= t) == y) for t in candidates])
    best = np.flatnonzero(acc == acc.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def classification_metrics(probability: np.ndarray, label: np.ndarray, threshold: float) -> dict:
    """Accuracy, precision, recall at ``threshold`` and the AUC (NaN with one class; precision NaN
    when nothing is predicted real)."""
    p, y = np.asarray(probability, float), np.asarray(label, bool)
    pred = p >= threshold
    tp = int(np.sum(pred & y))
    return {
        "accuracy": float(np.mean(pred == y)) if y.size else np.nan,
        "precision": tp / int(pred.sum()) if pred.any() else np.nan,
        "recall": tp / int(y.sum()) if y.any() else np.nan,
        "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else np.nan,
    }


def row_name(channel_set: str, augment: bool) -> str:
    """Kosiba's row names: ``CN all``, ``CN solo x-ray``, ..., ``... no augm.``."""
    name = (
        "CN all" if channel_set == "all" else f"CN solo {'x-ray' if channel_set == 'xray' else channel_set}"
    )
    return name if augment else f"{name} no augm."


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof 1) of each metric over the seeds of each
    (channel set, augmentation), in :data:`CHANNEL_SETS` order, augmented first."""
    rows = []
    for augment in (True, False):
        for cs in CHANNEL_SETS:
            r = runs[(runs["channels"] == cs) & (runs["augment"] == augment)]
            if len(r):
                out = {"network": row_name(cs, augment), "channels": cs, "augment": augment, "seeds": len(r)}
                for m in METRICS:
                    out[f"{m}_mean"] = float(r[m].mean())
                    out[f"{m}_std"] = float(r[m].std(ddof=1)) if len(r) > 1 else np.nan
                rows.append(out)
    return pd.DataFrame(rows)


def table_markdown(summary: pd.DataFrame, n_test: int, n_test_real: int) -> str:
    """The summary in the format of Kosiba's table (``A ± std | P ± std | R ± std | AUC ± std``)."""
    lines = [
        f"Kosiba task: MF candidates of the test stripe ({n_test}, {n_test_real} real), mean ± std over "
        f"{int(summary['seeds'].max()) if len(summary) else 0} seeds, at the validation stripe's "
        "accuracy-maximising threshold.",
        "",
        "| network | " + " | ".join(f"{HEADINGS[m]} ± std" for m in METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for row in summary.itertuples(index=False):
        cells = [f"{getattr(row, f'{m}_mean'):.2f} ± {getattr(row, f'{m}_std'):.2f}" for m in METRICS]
        lines.append(f"| {row.network} | " + " | ".join(cells) + " |")
    lines += ["", "Kosiba's custom network (X-ray-selected candidates, optical and X-ray images):", ""]
    lines += [
        "| network | " + " | ".join(f"{HEADINGS[m]} ± std" for m in METRICS) + " |",
        "|---|" + "---|" * 4,
    ]
    for (cs, augment), values in KOSIBA.items():
        cells = [f"{values[m][0]:.2f} ± {values[m][1]:.2f}" for m in METRICS]
        lines.append(f"| {row_name(cs, augment)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
