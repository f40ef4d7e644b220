"""Classification metrics shared by the CNN, the matched filter and the ensembles (DeepSZ 3.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class F1Curve:
    """F1 at every distinct score, for the rule "positive if score >= threshold".

    Attributes
    ----------
    thresholds : ndarray
        Distinct scores, increasing.
    precision, recall, f1 : ndarray
        The metrics at each threshold (0 where undefined).
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray

    @property
    def best(self) -> tuple[float, float]:
        """(threshold, F1) at the maximum F1; the lowest such threshold on ties."""
        i = int(np.argmax(self.f1))
        return float(self.thresholds[i]), float(self.f1[i])


def f1_curve(scores: np.ndarray, labels: np.ndarray) -> F1Curve:
    """F1 against threshold, exact over all distinct scores (no threshold grid).

    Parameters
    ----------
    scores : array_like
        Any real score, larger meaning "more likely positive".
    labels : array_like of bool or {0, 1}
        Truth.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 1 or len(scores) == 0:
        raise ValueError(
            f"scores and labels must be equal-length 1-D arrays, got {scores.shape} and {labels.shape}"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    # Counts in float64 (exact for integers) so that ties in F1 are resolved exactly.
    thresholds, first = np.unique(scores, return_inverse=True)
    pos_at = np.bincount(first, weights=labels, minlength=len(thresholds))
    all_at = np.bincount(first, minlength=len(thresholds)).astype(np.float64)
    tp = np.cumsum(pos_at[::-1])[::-1]  # positives with score >= threshold
    predicted = np.cumsum(all_at[::-1])[::-1]
    n_pos = labels.sum()
    precision = tp / predicted
    recall = tp / n_pos if n_pos else np.zeros_like(tp)
    f1 = 2 * tp / (predicted + n_pos)
    return F1Curve(thresholds, precision, recall, f1)


def f1_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """F1 of the rule "positive if score >= threshold" (e.g. a validation threshold applied to test)."""
    predicted = np.asarray(scores) >= threshold
    labels = np.asarray(labels).astype(bool)
    return float(2 * (predicted & labels).sum() / max(predicted.sum() + labels.sum(), 1))
