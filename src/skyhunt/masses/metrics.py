"""Bias and scatter of ln(M_est / M_true), overall and in bins, with bootstrap intervals."""

from __future__ import annotations

import numpy as np


def bias_scatter(ln_ratio: np.ndarray, samples: int, interval: float, rng: np.random.Generator) -> dict:
    """Mean (bias) and standard deviation (scatter) of ``ln_ratio`` with bootstrap intervals.

    Parameters
    ----------
    ln_ratio : ndarray
        ln(M_est / M_true) of each object (finite).
    samples : int
        Bootstrap resamples (objects drawn with replacement).
    interval : float
        Central probability of the intervals (0.68: 16th-84th percentiles).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``n``; ``bias``, ``bias_lo``, ``bias_hi``; ``scatter``, ``scatter_lo``, ``scatter_hi``
        (dimensionless, natural log); the statistics are null with fewer than 2 objects.
    """
    x = np.asarray(ln_ratio, dtype=float)
    out = {"n": int(x.size)}
    keys = ("bias", "bias_lo", "bias_hi", "scatter", "scatter_lo", "scatter_hi")
    if x.size < 2:
        return out | dict.fromkeys(keys)
    boot = x[rng.integers(0, x.size, (samples, x.size))]
    tail = 100.0 * 0.5 * (1.0 - interval)
    b_lo, b_hi = np.percentile(boot.mean(axis=1), [tail, 100.0 - tail])
    s_lo, s_hi = np.percentile(boot.std(axis=1, ddof=1), [tail, 100.0 - tail])
    values = (x.mean(), b_lo, b_hi, x.std(ddof=1), s_lo, s_hi)
    return out | {k: float(v) for k, v in zip(keys, values, strict=True)}


def binned(
    ln_ratio: np.ndarray, by: np.ndarray, edges, samples: int, interval: float, rng: np.random.Generator
) -> list[dict]:
    """:func:`bias_scatter` in bins of ``by`` (bin i: edges[i] <= by < edges[i + 1]), with the edges."""
    edges = np.asarray(edges, dtype=float)
    return [
        {"lo": float(lo), "hi": float(hi)}
        | bias_scatter(ln_ratio[(by >= lo) & (by < hi)], samples, interval, rng)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
