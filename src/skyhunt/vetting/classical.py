"""The classical vetter: scikit-learn's histogram gradient boosting on the candidate features.

``HistGradientBoostingClassifier`` (LightGBM-like binned gradient boosting; Ke et al. 2017),
seeded, with early stopping off so that the validation stripe stays out of the fit: it is used
only for the catalogue's thresholds, as for every method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier


def fit_classical(features: pd.DataFrame, labels: np.ndarray, classical: dict, seed: int):
    """A gradient-boosting classifier fitted to ``features`` (rows) and 0/1 ``labels``.

    Parameters
    ----------
    features : DataFrame
        Rows of :func:`skyhunt.vetting.features.candidate_features` (the training stripe).
    labels : ndarray of int
    classical : dict
        Config ``vetting.classical``: ``max_iter``, ``learning_rate``, ``max_leaf_nodes``,
        ``l2_regularization``.
    seed : int
        Seed of the model's random state.

    Raises
    ------
    ValueError
        If the training rows hold one class only.
    """
    labels = np.asarray(labels, dtype=int)
    if np.unique(labels).size < 2:
        raise ValueError(f"the classical vetter needs both classes; the training rows hold only {labels[:1]}")
    model = HistGradientBoostingClassifier(
        max_iter=classical["max_iter"],
        learning_rate=classical["learning_rate"],
        max_leaf_nodes=classical["max_leaf_nodes"],
        l2_regularization=classical["l2_regularization"],
        early_stopping=False,
        random_state=seed,
    )
    return model.fit(features.to_numpy(np.float64), labels)


def classical_scores(model, features: pd.DataFrame) -> np.ndarray:
    """Probability of a real cluster for every row of ``features``."""
    return model.predict_proba(features.to_numpy(np.float64))[:, 1]
