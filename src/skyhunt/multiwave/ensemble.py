"""The catalogue ensemble across wavelengths (issue 18): the MF and CNN-detector catalogue ensemble
(:mod:`skyhunt.catalogues.ensembles`) with the X-ray-only and optical-only Kosiba classifiers'
scores added.

The entries are those of the catalogue ensembles (:func:`skyhunt.catalogues.ensembles.combine`).
An entry whose MF position has Kosiba cutouts gets each classifier's probability (the mean over
its seeds); every other entry gets the floor score :data:`skyhunt.catalogues.ensembles.FLOOR`
(0), as a method that did not find it. Each score becomes a rank percentile within the entry's
split (``q_xray``, ``q_optical``). The combination is the logistic regression of the learned
catalogue ensemble, fitted on the validation stripe with the same objective (mean log-loss +
``l2`` |w|^2 / N, intercept free): without the extra scores it is
:func:`skyhunt.catalogues.ensembles.fit_learned` itself (the catalogue ``ens_learned``); with
them, scikit-learn's ``LogisticRegression`` (``C = 1 / (2 l2)``, the same objective) on
q_detector, q_mf, their product, q_xray and q_optical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from skyhunt.catalogues.ensembles import FLOOR, add_ranks, combine, fit_learned
from skyhunt.evaluation.ensembles import rank_percentile
from skyhunt.vetting.labels import nearest

#: The extra scores, in feature order.
EXTRA = ("xray", "optical")

#: Positions closer than this (arcmin) are the same candidate.
SAME_ARCMIN = 1e-3


def wavelength_entries(
    mf: pd.DataFrame, detector: pd.DataFrame, radius_arcmin: float, extra: dict
) -> pd.DataFrame:
    """The ranked catalogue-ensemble entries with ``score_<name>`` and ``q_<name>`` of each extra score.

    Parameters
    ----------
    mf, detector : DataFrame
        The MF and detector catalogues (ra, dec (deg), score, class, split).
    radius_arcmin : float
        Cross-match radius, arcmin.
    extra : dict
        Name -> DataFrame of ``ra``, ``dec`` (deg; MF candidate positions) and ``score``.
    """
    table = add_ranks(combine(mf, detector, radius_arcmin))
    has_mf = np.isfinite(table["ra_mf"].to_numpy(float))
    for name, scores in extra.items():
        at, _ = nearest(
            table["ra_mf"].to_numpy(float)[has_mf],
            table["dec_mf"].to_numpy(float)[has_mf],
            scores["ra"].to_numpy(float),
            scores["dec"].to_numpy(float),
            SAME_ARCMIN,
        )
        value = np.full(len(table), FLOOR)
        value[np.flatnonzero(has_mf)[at >= 0]] = scores["score"].to_numpy(float)[at[at >= 0]]
        table[f"score_{name}"] = value
        q = np.zeros(len(table))
        for split in np.unique(table["split"].to_numpy()):
            rows = table["split"].to_numpy() == split
            q[rows] = rank_percentile(value[rows])
        table[f"q_{name}"] = q
    return table


def combination_features(table: pd.DataFrame, extra) -> np.ndarray:
    """Features (N, 3 + len(extra)): q_detector, q_mf, their product, then q_<name> of each extra."""
    q_det, q_mf = table["q_detector"].to_numpy(float), table["q_mf"].to_numpy(float)
    return np.column_stack([q_det, q_mf, q_det * q_mf, *(table[f"q_{n}"].to_numpy(float) for n in extra)])


def fit_extended(table: pd.DataFrame, true: np.ndarray, l2: float, extra) -> LogisticRegression:
    """The penalised logistic combination with the extra ranks, fitted on the validation entries.

    Raises
    ------
    ValueError
        If the validation entries are all true or all false.
    """
    val = table["split"].to_numpy() == "validation"
    y = np.asarray(true, bool)[val]
    if y.all() or not y.any():
        raise ValueError("the learned ensemble needs both classes in the fitting split")
    model = (
        LogisticRegression(C=1.0 / (2.0 * l2), tol=1e-10, max_iter=10000)
        if l2 > 0
        else LogisticRegression(penalty=None, tol=1e-10, max_iter=10000)
    )
    return model.fit(combination_features(table, extra)[val], y)


def ensemble_scores(table: pd.DataFrame, true: np.ndarray, l2: float, extra=EXTRA) -> dict:
    """Scores of every entry without (``learned``) and with (``learned_multiwave``) the extra ranks,
    and the fitted coefficients."""
    base = fit_learned(table, true, l2)
    ext = fit_extended(table, true, l2, extra)
    names = ["q_detector", "q_mf", "q_detector_q_mf", *(f"q_{n}" for n in extra)]
    return {
        "learned": base(table["q_detector"].to_numpy(), table["q_mf"].to_numpy()),
        "learned_multiwave": ext.predict_proba(combination_features(table, extra))[:, 1],
        "weights": {
            "learned": {"intercept": base.intercept, **dict(zip(names[:3], base.weights, strict=True))},
            "learned_multiwave": {
                "intercept": float(ext.intercept_[0]),
                **dict(zip(names, (float(w) for w in ext.coef_[0]), strict=True)),
            },
        },
    }
