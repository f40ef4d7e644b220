"""Completeness on a grid of M500c and z: counts, binomial intervals, and the comparison with truth.

A cluster (injected, or one of the sky's own halos) is recovered by a method at threshold s when
one of the method's entries with score >= s lies within the match radius (1′). The largest score
within the radius is recorded per cluster (:func:`best_score_within`), so one injection run serves
every threshold. Intervals are central Jeffreys intervals
(:func:`skyhunt.evaluation.completeness.jeffreys_interval`, as the completeness figures). The
injection and truth completeness of a bin are compared with the two-proportion test (pooled
proportion, Agresti 2013, section 3.1): chi^2 = sum over bins of (p_inj - p_true)^2 /
[p (1 - p) (1/n_inj + 1/n_true)], one degree of freedom per bin with both counts at least
``min_per_bin`` and 0 < p < 1.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from skyhunt.catalogues.crossmatch import pairs_within
from skyhunt.evaluation.completeness import jeffreys_interval


def best_score_within(ra, dec, entry_ra, entry_dec, entry_score, radius_arcmin: float) -> np.ndarray:
    """The largest entry score within ``radius_arcmin`` of each position, 0 with none (degrees)."""
    i, j, _ = pairs_within(ra, dec, entry_ra, entry_dec, radius_arcmin)
    best = np.zeros(np.size(ra))
    np.maximum.at(best, i, np.asarray(entry_score, dtype=float)[j])
    return best


def bin_counts(m500c, z, recovered, m500c_edges, z_edges) -> tuple[np.ndarray, np.ndarray]:
    """Clusters (n) and recovered clusters (k) per bin, shape (n_z, n_m500c); outside: not counted."""
    args = (np.asarray(z, float), np.asarray(m500c, float))
    n, _, _ = np.histogram2d(*args, bins=(z_edges, m500c_edges))
    k, _, _ = np.histogram2d(*args, bins=(z_edges, m500c_edges), weights=np.asarray(recovered, float))
    return n.astype(np.int64), k.astype(np.int64)


def completeness_of(n: np.ndarray, k: np.ndarray, interval: float) -> dict:
    """Completeness k / n (NaN where n = 0) and its central Jeffreys interval."""
    n = np.asarray(n)
    k = np.asarray(k)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    lo, hi = jeffreys_interval(k, np.maximum(n, 1), interval)
    return {"p": p, "lower": np.where(n > 0, lo, np.nan), "upper": np.where(n > 0, hi, np.nan)}


def chi2_against_truth(n_inj, k_inj, n_true, k_true, min_per_bin: int) -> dict:
    """Two-proportion chi^2 of injection against truth completeness, bin by bin.

    Returns
    -------
    dict
        ``chi2``, ``dof`` (bins compared), ``p_value`` (chi^2 survival function; NaN for dof 0),
        and ``used`` (boolean array of the compared bins).
    """
    n1, k1, n2, k2 = (np.asarray(a, float) for a in (n_inj, k_inj, n_true, k_true))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (k1 + k2) / (n1 + n2)
        var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
        used = (n1 >= min_per_bin) & (n2 >= min_per_bin) & (var > 0)
        terms = np.where(used, (k1 / n1 - k2 / n2) ** 2 / np.where(used, var, 1.0), 0.0)
    chi2 = float(terms.sum())
    dof = int(used.sum())
    return {
        "chi2": chi2,
        "dof": dof,
        "p_value": float(stats.chi2.sf(chi2, dof)) if dof else float("nan"),
        "used": used,
    }
