"""Catalogue metrics against the truth: completeness, purity, N at a purity level, average precision.

Definitions (``r`` is the match radius, 1' by default, config ``catalogues.match_radius_arcmin``):

- A catalogue entry is *true* for a truth set when a member of the set lies within ``r`` of it.
  Purity at threshold s: the fraction of entries with score >= s that are true. Two truth sets:
  the qualifying halos (the cutout positive cut, :func:`skyhunt.sky.halos.qualifying_mask`), and
  every halo with M500c >= ``catalogues.purity_m500c_min`` (what follow-up would confirm).
- A qualifying halo is *found* at threshold s when an entry with score >= s lies within ``r``;
  its *best score* is the largest score among those entries (-inf if none). Completeness at s:
  the fraction of qualifying halos whose best score is >= s.
- The threshold at purity P (:func:`threshold_at_purity`) is the lowest entry score at which the
  purity is >= P; set on the validation stripe, it is applied unchanged to the test stripe, where
  the qualifying halos found are counted (:func:`n_found`).
- Average precision (CLARAN, Wu et al. 2019; the PASCAL VOC all-point definition): entries by
  decreasing score, each matched to the nearest not yet matched truth object within ``r`` (true
  positive) or to none (false positive); AP is the area under the precision envelope against recall.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.catalogues.crossmatch import pairs_within


def true_entries(ra, dec, truth_ra, truth_dec, radius_arcmin: float) -> np.ndarray:
    """Whether a truth position lies within ``radius_arcmin`` of each entry (bool per entry)."""
    i, _, _ = pairs_within(ra, dec, truth_ra, truth_dec, radius_arcmin)
    out = np.zeros(np.size(ra), bool)
    out[i] = True
    return out


def best_scores(halo_ra, halo_dec, ra, dec, score, radius_arcmin: float) -> np.ndarray:
    """The largest score of the entries within ``radius_arcmin`` of each halo (-inf if none)."""
    h, e, _ = pairs_within(halo_ra, halo_dec, ra, dec, radius_arcmin)
    out = np.full(np.size(halo_ra), -np.inf)
    np.maximum.at(out, h, np.asarray(score, float)[e])
    return out


def purity_curve(score: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct scores increasing, purity of the entries with score >= each), exact."""
    score, true = np.asarray(score, float), np.asarray(true, bool)
    thresholds, inverse = np.unique(score, return_inverse=True)
    n_true = np.cumsum(np.bincount(inverse, weights=true, minlength=thresholds.size)[::-1])[::-1]
    n_all = np.cumsum(np.bincount(inverse, minlength=thresholds.size)[::-1])[::-1]
    return thresholds, n_true / n_all


def threshold_at_purity(score: np.ndarray, true: np.ndarray, level: float) -> float:
    """The lowest entry score at which the purity is >= ``level`` (+inf if it never is)."""
    thresholds, purity = purity_curve(score, true)
    ok = purity >= level
    return float(thresholds[np.argmax(ok)]) if ok.any() else np.inf


def n_found(halo_best: np.ndarray, threshold: float) -> int:
    """Halos whose best score reaches ``threshold``."""
    return int(np.sum(np.asarray(halo_best) >= threshold))


def completeness_purity(
    thresholds: np.ndarray, score: np.ndarray, true_qualifying: np.ndarray, true_mass: np.ndarray, halo_best
) -> pd.DataFrame:
    """Completeness and both purities at each threshold.

    Parameters
    ----------
    thresholds : ndarray
        Score thresholds.
    score : ndarray
        Entry scores.
    true_qualifying, true_mass : ndarray of bool
        Whether each entry is true against the qualifying halos and against M500c >= the purity mass.
    halo_best : ndarray
        Best score of each qualifying halo (:func:`best_scores`).

    Returns
    -------
    DataFrame
        threshold, n_entries, n_found, n_qualifying, completeness, purity_qualifying, purity_mass
        (purity NaN where no entry passes; completeness NaN without qualifying halos).
    """
    t = np.asarray(thresholds, float)
    score, halo_best = np.asarray(score, float), np.asarray(halo_best, float)

    def at_least(values):  # how many of ``values`` are >= each threshold (sorting: O(n log n))
        return values.size - np.searchsorted(np.sort(values), t, side="left")

    n = at_least(score)
    found = at_least(halo_best)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "threshold": t,
                "n_entries": n,
                "n_found": found,
                "n_qualifying": halo_best.size,
                "completeness": found / halo_best.size if halo_best.size else np.nan,
                "purity_qualifying": np.where(
                    n > 0, at_least(score[np.asarray(true_qualifying, bool)]) / n, np.nan
                ),
                "purity_mass": np.where(n > 0, at_least(score[np.asarray(true_mass, bool)]) / n, np.nan),
            }
        )


def n_at_purity(
    val_score, val_true, test_halo_best, level: float, samples: int, rng: np.random.Generator
) -> dict:
    """Qualifying test halos found at the validation threshold of purity ``level``, with bootstrap draws.

    Each bootstrap draw resamples the validation entries with replacement (and re-chooses the
    threshold: its uncertainty) and the qualifying test halos with replacement (the count's).

    Returns
    -------
    dict
        threshold (validation), n (test count), n_qualifying_test, draws (ndarray of ``samples`` counts).
    """
    val_score, val_true = np.asarray(val_score, float), np.asarray(val_true, bool)
    test_halo_best = np.asarray(test_halo_best, float)
    threshold = threshold_at_purity(val_score, val_true, level) if val_score.size else np.inf
    draws = np.zeros(samples, dtype=np.int64)
    for b in range(samples if val_score.size and test_halo_best.size else 0):
        e = rng.integers(0, val_score.size, val_score.size)
        h = rng.integers(0, test_halo_best.size, test_halo_best.size)
        t = threshold_at_purity(val_score[e], val_true[e], level)
        draws[b] = n_found(test_halo_best[h], t)
    return {
        "threshold": threshold,
        "n": n_found(test_halo_best, threshold),
        "n_qualifying_test": int(test_halo_best.size),
        "draws": draws,
    }


def average_precision(ra, dec, score, truth_ra, truth_dec, radius_arcmin: float) -> float:
    """Average precision of a catalogue against truth positions (PASCAL VOC all-point, CLARAN).

    Entries are taken by decreasing score (ties by ra, then dec); each is matched to the nearest
    unmatched truth object within ``radius_arcmin``. NaN without truth objects.
    """
    n_truth = np.size(truth_ra)
    if n_truth == 0:
        return np.nan
    ra, dec, score = (np.atleast_1d(np.asarray(a, float)) for a in (ra, dec, score))
    if ra.size == 0:
        return 0.0
    order = np.lexsort((dec, ra, -score))
    e, t, sep = pairs_within(ra, dec, truth_ra, truth_dec, radius_arcmin)
    rank = np.empty(ra.size, np.int64)
    rank[order] = np.arange(ra.size)
    by_entry = {}
    for k in np.lexsort((t, sep, rank[e])):
        by_entry.setdefault(int(e[k]), []).append(int(t[k]))
    used = np.zeros(n_truth, bool)
    tp = np.zeros(ra.size, bool)
    for r, entry in enumerate(order):
        for truth in by_entry.get(int(entry), ()):
            if not used[truth]:
                used[truth] = tp[r] = True
                break
    cum_tp = np.cumsum(tp)
    precision = cum_tp / np.arange(1, ra.size + 1)
    recall = cum_tp / n_truth
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))
