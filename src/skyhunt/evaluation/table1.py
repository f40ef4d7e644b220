"""Table 1 of DeepSZ: test confusion matrices and metrics of every method, with bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.evaluation.ensembles import METHOD_NAMES, METHODS, predict


def confusion(positive: np.ndarray, labels: np.ndarray) -> dict:
    """TP, FP, FN, TN counts and precision, recall, F1 (0 where undefined) of one prediction."""
    positive, labels = np.asarray(positive, bool), np.asarray(labels, bool)
    tp = int(np.sum(positive & labels))
    fp = int(np.sum(positive & ~labels))
    fn = int(np.sum(~positive & labels))
    tn = int(np.sum(~positive & ~labels))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, **rates(tp, fp, fn)}


def rates(tp: int, fp: int, fn: int) -> dict:
    """Precision, recall and F1 (0 where undefined) from the TP, FP and FN counts."""
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }


def bootstrap_metrics(
    cnn: np.ndarray,
    mf: np.ndarray,
    labels: np.ndarray,
    thresholds: dict,
    samples: int,
    seed: int,
    *,
    detector: np.ndarray,
) -> dict:
    """Precision, recall and F1 of every method on ``samples`` resamples of the test cutouts.

    Each resample draws the test cutouts with replacement; the rank percentiles of EnsemblePROD and
    the learned ensemble are re-taken within the resample, as they would be on a new test set.
    The thresholds stay those chosen on validation. ``detector`` is the detector's cutout score;
    it does not change the resamples, so the other methods' draws do not depend on it.

    Returns
    -------
    dict
        (method, metric) -> ndarray of ``samples`` values.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, bool)
    out = {(m, k): np.empty(samples) for m in METHODS for k in ("precision", "recall", "f1")}
    for b in range(samples):
        idx = rng.integers(0, labels.size, labels.size)
        pred = predict(cnn[idx], mf[idx], thresholds, detector=detector[idx])
        for m in METHODS:
            c = confusion(pred[f"{m}_pos"], labels[idx])
            for k in ("precision", "recall", "f1"):
                out[m, k][b] = c[k]
    return out


def table1(
    cnn: np.ndarray,
    mf: np.ndarray,
    labels: np.ndarray,
    thresholds: dict,
    samples: int,
    interval: float,
    seed: int,
    *,
    detector: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """DeepSZ Table 1 on the test cutouts, and the F1 gain of each ensemble over the single methods.

    Parameters
    ----------
    cnn, mf : ndarray
        Calibrated CNN probability and largest MF SNR of each test cutout.
    labels : ndarray of bool
        Truth.
    thresholds : dict
        Chosen on validation (:func:`skyhunt.evaluation.ensembles.choose_thresholds`).
    samples : int
        Bootstrap resamples.
    interval : float
        Central probability of the intervals (0.68: 16th to 84th percentile).
    seed : int
        Seed of the resampling.
    detector : ndarray
        The CNN detector's cutout score of each test cutout (0 without a cluster entry).

    Returns
    -------
    table : DataFrame
        One row per method: the threshold(s), TP, FP, FN, TN, then precision, recall and F1 with
        ``_lo`` and ``_hi`` interval bounds, and the validation F1.
    gains : DataFrame
        One row per ensemble: its test F1 minus that of MF, of CNN and of the better of the two in
        each resample (point value and interval), and the fraction of resamples in which it beats both.
    """
    labels = np.asarray(labels, bool)
    detector = np.asarray(detector, float)
    pred = predict(cnn, mf, thresholds, detector=detector)
    boot = bootstrap_metrics(cnn, mf, labels, thresholds, samples, seed, detector=detector)
    q = 100 * (1 - interval) / 2, 100 * (1 + interval) / 2
    rows = []
    for m in METHODS:
        c = confusion(pred[f"{m}_pos"], labels)
        row = {"method": m, "threshold": threshold_text(m, thresholds[m])}
        row.update({k: c[k] for k in ("tp", "fp", "fn", "tn")})
        for k in ("precision", "recall", "f1"):
            lo, hi = np.percentile(boot[m, k], q)
            row.update({k: c[k], f"{k}_lo": lo, f"{k}_hi": hi})
        row["validation_f1"] = thresholds[m]["validation_f1"]
        rows.append(row)
    table = pd.DataFrame(rows)
    f1 = table.set_index("method")["f1"]
    gains = []
    for m in ("and", "prod", "learned"):
        best_single = np.maximum(boot["mf", "f1"], boot["cnn", "f1"])
        row = {"method": m}
        for ref, point, draws in (
            ("mf", f1[m] - f1["mf"], boot[m, "f1"] - boot["mf", "f1"]),
            ("cnn", f1[m] - f1["cnn"], boot[m, "f1"] - boot["cnn", "f1"]),
            ("best_single", f1[m] - max(f1["mf"], f1["cnn"]), boot[m, "f1"] - best_single),
        ):
            lo, hi = np.percentile(draws, q)
            row.update({f"df1_vs_{ref}": point, f"df1_vs_{ref}_lo": lo, f"df1_vs_{ref}_hi": hi})
        row["p_beats_both"] = float(np.mean(boot[m, "f1"] > best_single))
        gains.append(row)
    return table, pd.DataFrame(gains)


def threshold_text(method: str, rule: dict) -> str:
    """The validation threshold in words, e.g. ``SNR >= 5.12`` or ``SNR >= 4.1 and p >= 0.2``."""
    if method == "and":
        return f"SNR >= {rule['threshold_mf']:.3g} and p >= {rule['threshold_cnn']:.3g}"
    what = {"mf": "SNR", "cnn": "p", "detector": "p_det", "prod": "q_CNN q_MF", "learned": "p_learned"}[
        method
    ]
    return f"{what} >= {rule['threshold']:.3g}"


def markdown(table: pd.DataFrame, gains: pd.DataFrame, stage: str, interval: float, n: dict) -> str:
    """Table 1 and the ensemble gains as GitHub Markdown.

    Parameters
    ----------
    n : dict
        Counts shown in the heading: ``test``, ``positives``, ``samples``.
    """
    pct = f"{100 * interval:.0f} %"

    def cell(row, k, sign=""):
        return f"{row[k]:{sign}.3f} [{row[k + '_lo']:{sign}.3f}, {row[k + '_hi']:{sign}.3f}]"

    lines = [
        f"Table 1 (DeepSZ): test split, noise stage `{stage}`, {n['test']} cutouts of which "
        f"{n['positives']} positive; thresholds chosen on validation (maximum F1); "
        f"{pct} bootstrap intervals from {n['samples']} resamples of the test cutouts.",
        "",
        "| method | threshold (validation) | TP | FP | FN | TN | precision | recall | F1 | validation F1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {METHOD_NAMES[r.method]} | {r.threshold} | {r.tp} | {r.fp} | {r.fn} | {r.tn} | "
            f"{cell(r, 'precision')} | {cell(r, 'recall')} | {cell(r, 'f1')} | {r.validation_f1:.3f} |"
        )
    lines += [
        "",
        f"Test F1 gain of each ensemble ({pct} paired bootstrap intervals) and the fraction of resamples "
        "in which it beats both MF and CNN:",
        "",
        "| ensemble | ΔF1 vs MF | ΔF1 vs CNN | ΔF1 vs the better single method | P(beats both) |",
        "|---|---|---|---|---|",
    ]
    for _, r in gains.iterrows():
        lines.append(
            f"| {METHOD_NAMES[r.method]} | {cell(r, 'df1_vs_mf', '+')} | {cell(r, 'df1_vs_cnn', '+')} | "
            f"{cell(r, 'df1_vs_best_single', '+')} | {r.p_beats_both:.2f} |"
        )
    return "\n".join(lines) + "\n"
