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
from scipy.special import chdtrc

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
        "p_value": float(chdtrc(dof, chi2)) if dof else float("nan"),  # the chi^2 survival function
        "used": used,
    }


def mass_weights(inj_m500c, inj_z, true_m500c, true_z, m500c_edges, z_edges, sub_bins: int) -> np.ndarray:
    """Weights that give the injections of each bin the sky's halos' distribution in log M500c.

    Injections are log-uniform in M500c, the sky's halos follow the steep mass function, so where
    the completeness changes within a bin the two bin averages differ even for one selection.
    Each bin is cut into ``sub_bins`` equal sub-bins in log M500c; an injection in sub-bin j of
    its bin weighs (halos in j / halos in the bin) / (injections in j / injections in the bin),
    0 where the sub-bin holds no halo (weights of bins without halos are 0).
    """
    log_edges = np.log10(m500c_edges)
    fine = np.concatenate(
        [np.linspace(a, b, sub_bins + 1)[:-1] for a, b in zip(log_edges[:-1], log_edges[1:], strict=True)]
        + [log_edges[-1:]]
    )
    n_inj, _ = bin_counts(inj_m500c, inj_z, np.zeros(np.size(inj_m500c)), 10.0**fine, z_edges)
    n_true, _ = bin_counts(true_m500c, true_z, np.zeros(np.size(true_m500c)), 10.0**fine, z_edges)
    shape = (z_edges.size - 1, m500c_edges.size - 1, sub_bins)
    n_inj, n_true = n_inj.reshape(shape).astype(float), n_true.reshape(shape).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_true = n_true / n_true.sum(axis=2, keepdims=True)
        share_inj = n_inj / n_inj.sum(axis=2, keepdims=True)
        w = np.nan_to_num(np.where(n_inj > 0, share_true / share_inj, 0.0))
    iz = np.searchsorted(z_edges, inj_z, side="right") - 1
    jf = np.searchsorted(fine, np.log10(inj_m500c), side="right") - 1
    ok = (iz >= 0) & (iz < shape[0]) & (jf >= 0) & (jf < shape[1] * sub_bins)
    out = np.zeros(np.size(inj_m500c))
    out[ok] = w.reshape(shape[0], -1)[iz[ok], jf[ok]]
    return out


def weighted_counts(m500c, z, recovered, weights, m500c_edges, z_edges) -> tuple[np.ndarray, np.ndarray]:
    """Effective trials n_eff = (sum w)^2 / sum w^2 and successes p_w n_eff per bin (floats)."""
    args = (np.asarray(z, float), np.asarray(m500c, float))
    bins = (z_edges, m500c_edges)
    w = np.asarray(weights, float)
    sw, _, _ = np.histogram2d(*args, bins=bins, weights=w)
    sw2, _, _ = np.histogram2d(*args, bins=bins, weights=w**2)
    swk, _, _ = np.histogram2d(*args, bins=bins, weights=w * np.asarray(recovered, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(sw2 > 0, sw**2 / np.where(sw2 > 0, sw2, 1.0), 0.0)
        k_eff = np.where(sw > 0, swk / np.where(sw > 0, sw, 1.0), 0.0) * n_eff
    return n_eff, k_eff
