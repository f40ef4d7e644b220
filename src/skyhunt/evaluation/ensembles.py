"""Thresholds on validation and the ensembles of the CNN and the matched filter (DeepSZ section 3.2).

Every method labels a cutout positive when its score reaches a threshold chosen where the F1 of the
validation split is largest; the threshold is then applied unchanged to the test split.

- MF: the cutout's largest matched-filter SNR (0 without a detection).
- CNN: the Platt-calibrated probability.
- CNN detector (beyond the paper, :mod:`skyhunt.catalogues`): the largest heat-map probability of
  the detector's cluster entries assigned to the cutout exactly as the MF's detections (0 without).
- EnsemblePROD: the product of the rank percentiles of the two scores, ranks taken within each split.
- EnsembleAND: positive when both the MF and the CNN thresholds are met; the pair is the exact F1
  maximum on validation (:func:`best_and`), not a grid search.
- Learned (beyond the paper): logistic regression of the label on both rank percentiles and their
  product, fitted on validation only (:class:`LogisticCombination`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from skyhunt.metrics import f1_curve

#: Display name of each method, in report order (Table 1 and the figures).
METHOD_NAMES = {
    "mf": "MF",
    "cnn": "CNN",
    "detector": "CNN detector",
    "and": "EnsembleAND",
    "prod": "EnsemblePROD",
    "learned": "Learned ensemble",
}

#: Method keys in report order.
METHODS = tuple(METHOD_NAMES)


def rank_percentile(scores: np.ndarray) -> np.ndarray:
    """DeepSZ's rank percentile q_i = (1/N) #{j : s_j <= s_i}, in (0, 1] (ties share the highest rank).

    Parameters
    ----------
    scores : ndarray
        Scores of the N cutouts of one split.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not scores.size:
        return np.zeros(0)
    return np.searchsorted(np.sort(scores), scores, side="right") / scores.size


def and_counts(
    mf: np.ndarray, cnn: np.ndarray, labels: np.ndarray, mf_thresholds: np.ndarray, cnn_thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """True positives and predicted positives of ``mf >= t_mf and cnn >= t_cnn`` on a threshold grid.

    Exact for every pair at once: each cutout is binned by how many thresholds of each axis it
    passes, and the counts are reverse cumulative sums over that 2-D histogram.

    Parameters
    ----------
    mf, cnn : ndarray
        Scores of each cutout (SNR; calibrated probability).
    labels : ndarray of bool
        Truth.
    mf_thresholds, cnn_thresholds : ndarray
        Increasing thresholds.

    Returns
    -------
    tp, predicted : ndarray, shape (len(mf_thresholds), len(cnn_thresholds))
    """
    mf_t, cnn_t = np.asarray(mf_thresholds, float), np.asarray(cnn_thresholds, float)
    if np.any(np.diff(mf_t) <= 0) or np.any(np.diff(cnn_t) <= 0):
        raise ValueError("thresholds must be strictly increasing")
    i = np.searchsorted(mf_t, mf, side="right")  # cutout passes mf_t[:i]
    j = np.searchsorted(cnn_t, cnn, side="right")
    shape = (mf_t.size + 1, cnn_t.size + 1)
    flat = np.ravel_multi_index((i, j), shape)
    n_all = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape).astype(np.float64)
    n_pos = np.bincount(flat, weights=np.asarray(labels, bool), minlength=n_all.size).reshape(shape)

    def passing(h):  # sum over i > p and j > q
        return h[::-1, ::-1].cumsum(0).cumsum(1)[::-1, ::-1][1:, 1:]

    return passing(n_pos), passing(n_all)


def and_f1(mf, cnn, labels, mf_thresholds, cnn_thresholds) -> np.ndarray:
    """F1 of EnsembleAND on a grid of thresholds, shape (len(mf_thresholds), len(cnn_thresholds))."""
    tp, predicted = and_counts(mf, cnn, labels, mf_thresholds, cnn_thresholds)
    return 2 * tp / (predicted + np.asarray(labels, bool).sum())


@dataclass(frozen=True)
class AndThresholds:
    """The EnsembleAND rule ``mf >= mf_threshold and cnn >= cnn_threshold`` and its F1 where chosen."""

    mf_threshold: float
    cnn_threshold: float
    f1: float

    @classmethod
    def from_thresholds(cls, thresholds: dict) -> AndThresholds:
        """The rule chosen on validation, from the thresholds of :func:`choose_thresholds`.

        Parameters
        ----------
        thresholds : dict
            Method -> thresholds (as :func:`choose_thresholds` returns them and Table 1's
            ``thresholds.json`` holds them); its ``and`` entry gives ``threshold_mf`` (SNR),
            ``threshold_cnn`` (calibrated probability) and ``validation_f1``.
        """
        rule = thresholds["and"]
        return cls(rule["threshold_mf"], rule["threshold_cnn"], rule["validation_f1"])

    def __call__(self, mf: np.ndarray, cnn: np.ndarray) -> np.ndarray:
        return (np.asarray(mf) >= self.mf_threshold) & (np.asarray(cnn) >= self.cnn_threshold)


def best_and(mf: np.ndarray, cnn: np.ndarray, labels: np.ndarray) -> AndThresholds:
    """The (MF, CNN) threshold pair of largest F1 (DeepSZ Fig. 6b), exact.

    Raising either threshold up to the next positive's score loses no true positive and can only
    drop false positives, so the maximum lies on the grid of the positives' own scores; that grid
    is searched completely. Ties go to the lowest MF threshold, then the lowest CNN threshold.
    """
    labels = np.asarray(labels, bool)
    if not labels.any():
        raise ValueError("EnsembleAND needs at least one positive to choose thresholds")
    mf_t, cnn_t = np.unique(np.asarray(mf)[labels]), np.unique(np.asarray(cnn)[labels])
    f1 = and_f1(mf, cnn, labels, mf_t, cnn_t)
    p, q = np.unravel_index(int(np.argmax(f1)), f1.shape)
    return AndThresholds(float(mf_t[p]), float(cnn_t[q]), float(f1[p, q]))


def combination_features(q_cnn: np.ndarray, q_mf: np.ndarray) -> np.ndarray:
    """Features of the learned ensemble: both rank percentiles and their product (N, 3)."""
    q_cnn, q_mf = np.asarray(q_cnn, float), np.asarray(q_mf, float)
    return np.column_stack([q_cnn, q_mf, q_cnn * q_mf])


@dataclass(frozen=True)
class LogisticCombination:
    """P(positive) = sigmoid(intercept + w . [q_cnn, q_mf, q_cnn q_mf]), a learned EnsemblePROD.

    Attributes
    ----------
    intercept : float
    weights : tuple of float
        Coefficients of q_cnn, q_mf and q_cnn * q_mf.
    """

    intercept: float
    weights: tuple[float, float, float]

    @classmethod
    def from_thresholds(cls, thresholds: dict) -> LogisticCombination:
        """The combination fitted on validation, from the thresholds of :func:`choose_thresholds`.

        Parameters
        ----------
        thresholds : dict
            Method -> thresholds (as :func:`choose_thresholds` returns them and Table 1's
            ``thresholds.json`` holds them); its ``learned`` entry gives ``intercept`` and
            ``weights`` (q_cnn, q_mf, q_cnn_q_mf, in that order; dimensionless).
        """
        learned = thresholds["learned"]
        return cls(learned["intercept"], tuple(learned["weights"].values()))

    @classmethod
    def fit(cls, q_cnn, q_mf, labels, l2: float) -> LogisticCombination:
        """Penalised maximum likelihood: mean log-loss + ``l2`` * |w|^2 / N (intercept not penalised).

        Parameters
        ----------
        q_cnn, q_mf : ndarray
            Rank percentiles (within the fitting split) of the CNN and MF scores.
        labels : ndarray of bool
            Truth; both classes must be present.
        l2 : float
            Penalty strength, in log-likelihood units of one cutout.
        """
        x = combination_features(q_cnn, q_mf)
        y = np.asarray(labels, bool)
        if y.all() or not y.any():
            raise ValueError("the learned ensemble needs both classes in the fitting split")
        n = y.size

        def loss(p):
            z = p[0] + x @ p[1:]
            return -(np.sum(log_expit(z[y])) + np.sum(log_expit(-z[~y]))) / n + l2 * (p[1:] @ p[1:]) / n

        def grad(p):
            r = (expit(p[0] + x @ p[1:]) - y) / n
            return np.concatenate([[r.sum()], x.T @ r + 2 * l2 * p[1:] / n])

        best = minimize(
            loss, np.zeros(4), jac=grad, method="L-BFGS-B", options={"gtol": 1e-10, "maxiter": 1000}
        )
        return cls(float(best.x[0]), tuple(float(w) for w in best.x[1:]))

    def __call__(self, q_cnn, q_mf) -> np.ndarray:
        """Probability of each cutout being positive."""
        return expit(self.intercept + combination_features(q_cnn, q_mf) @ np.asarray(self.weights))


def split_scores(cnn: np.ndarray, mf: np.ndarray) -> dict:
    """Rank percentiles and rank product of the cutouts of one split (DeepSZ 3.2, EnsemblePROD)."""
    q_cnn, q_mf = rank_percentile(cnn), rank_percentile(mf)
    return {
        "cnn": np.asarray(cnn, float),
        "mf": np.asarray(mf, float),
        "q_cnn": q_cnn,
        "q_mf": q_mf,
        "prod": q_cnn * q_mf,
    }


def predict(cnn: np.ndarray, mf: np.ndarray, thresholds: dict, *, detector: np.ndarray) -> dict:
    """Scores and positive predictions of every method on the cutouts of one split.

    Parameters
    ----------
    cnn, mf : ndarray
        Calibrated CNN probability and largest MF SNR of each cutout of the split; the rank
        percentiles are taken among exactly these cutouts.
    thresholds : dict
        As returned by :func:`choose_thresholds`.
    detector : ndarray
        The detector's cutout score (largest cluster-entry probability, 0 without) of each cutout.

    Returns
    -------
    dict
        cnn, mf, q_cnn, q_mf, prod, learned, detector and a ``<method>_pos`` boolean per method.
    """
    out = split_scores(cnn, mf)
    out["learned"] = LogisticCombination.from_thresholds(thresholds)(out["q_cnn"], out["q_mf"])
    out["detector"] = np.asarray(detector, float)
    for method in ("mf", "cnn", "prod", "learned", "detector"):
        out[f"{method}_pos"] = out[method] >= thresholds[method]["threshold"]
    out["and_pos"] = AndThresholds.from_thresholds(thresholds)(out["mf"], out["cnn"])
    return out


def choose_thresholds(
    cnn: np.ndarray, mf: np.ndarray, labels: np.ndarray, l2: float, *, detector: np.ndarray
) -> dict:
    """Every method's threshold where the F1 of the validation cutouts is largest (DeepSZ 3.2).

    Parameters
    ----------
    cnn : ndarray
        Calibrated CNN probability of each validation cutout.
    mf : ndarray
        Largest MF SNR of each validation cutout (0 without a detection).
    labels : ndarray of bool
        Truth; both classes must be present.
    l2 : float
        Penalty of the learned combination (:meth:`LogisticCombination.fit`).
    detector : ndarray
        The detector's cutout score of each validation cutout (0 without a cluster entry).

    Returns
    -------
    dict
        Method -> its threshold(s), the threshold's rank percentile among the validation scores
        (the fraction below it) and the validation F1; the learned method also has its
        ``intercept`` and ``weights``.
    """
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        raise ValueError("the validation split needs positive and negative cutouts to choose thresholds")
    scores = split_scores(cnn, mf)
    model = LogisticCombination.fit(scores["q_cnn"], scores["q_mf"], labels, l2)
    scores["learned"] = model(scores["q_cnn"], scores["q_mf"])
    scores["detector"] = np.asarray(detector, float)
    out = {}
    for method in ("mf", "cnn", "prod", "learned", "detector"):
        threshold, f1 = f1_curve(scores[method], labels).best
        out[method] = {
            "threshold": threshold,
            "validation_rank_percentile": float(np.mean(scores[method] < threshold)),
            "validation_f1": f1,
        }
    rule = best_and(scores["mf"], scores["cnn"], labels)
    out["and"] = {
        "threshold_mf": rule.mf_threshold,
        "threshold_cnn": rule.cnn_threshold,
        "validation_f1": rule.f1,
    }
    out["learned"].update(
        intercept=model.intercept,
        weights=dict(zip(("q_cnn", "q_mf", "q_cnn_q_mf"), model.weights, strict=True)),
    )
    return {m: out[m] for m in METHODS}
