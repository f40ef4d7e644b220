"""Platt scaling (Platt 1999) of CNN scores, fitted on the validation split (DeepSZ 2.2.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit


@dataclass(frozen=True)
class PlattScaling:
    """Calibrated probability ``sigmoid(slope * score + intercept)``, with ``slope >= 0`` so the
    calibration never reverses the ranking of the scores."""

    slope: float
    intercept: float

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> PlattScaling:
        """Maximum-likelihood fit with Platt's regularised targets (N+ + 1) / (N+ + 2) and
        1 / (N- + 2), which keep the fit finite when the classes are separable.

        Parameters
        ----------
        scores : ndarray
            Raw scores (here the log-odds from the network) of the fitting set.
        labels : ndarray of bool
            Truth of the fitting set; both classes must be present.
        """
        scores = np.asarray(scores, dtype=np.float64)
        labels = np.asarray(labels, dtype=bool)
        n_pos, n_neg = int(labels.sum()), int((~labels).sum())
        if n_pos == 0 or n_neg == 0:
            raise ValueError(f"Platt scaling needs both classes; got {n_pos} positives and {n_neg} negatives")
        target = np.where(labels, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
        centre, scale = scores.mean(), scores.std() or 1.0
        s = (scores - centre) / scale

        def nll(p):
            z = p[0] * s + p[1]
            return -np.sum(target * log_expit(z) + (1 - target) * log_expit(-z))

        def grad(p):
            r = expit(p[0] * s + p[1]) - target
            return np.array([np.sum(r * s), np.sum(r)])

        best = minimize(nll, x0=[1.0, 0.0], jac=grad, method="L-BFGS-B", bounds=[(0.0, None), (None, None)])
        slope = best.x[0] / scale
        return cls(float(slope), float(best.x[1] - slope * centre))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw ``scores``."""
        return expit(self.slope * np.asarray(scores, dtype=np.float64) + self.intercept)
