"""The Deep-CEE figures (issue 18): P, R, F1 against the confidence threshold, and the offsets.

Chan & Stott (2019), Figs. 12 and 13: precision, recall and F1 of the test fields at the 11
confidence thresholds, and the distance of the detections from the true centre at the
best-F1 threshold.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.deepcee.pipeline import OFFSET_UNITS
from skyhunt.figures.style import new_figure, save_figure

#: Columns of the threshold table the figure reads.
TABLE_COLUMNS = ("threshold", "tp", "fp", "fn", "precision", "recall", "f1")


def read_threshold_table(path) -> pd.DataFrame:
    """The CSV of ``deepcee_metrics``, checked for its columns."""
    table = pd.read_csv(path)
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise io.InputFileError(f"{path}: missing columns {missing}")
    return table


def run_deepcee_prf1(*, table, summary, png, pdf) -> None:
    """Precision, recall and F1 against the confidence threshold (Deep-CEE Table 2 / Fig. 12).

    Parameters
    ----------
    table, summary : path-like
        ``tables/deepcee.csv`` and ``deepcee/summary.json`` of rule ``deepcee_metrics``.
    png, pdf : path-like
        Output figure.
    """
    t = read_threshold_table(table)
    with open(summary, encoding="utf-8") as f:
        best = json.load(f)
    fig, (ax, ax_pr) = new_figure(1, 2, height=3.2)
    for col, marker in (("precision", "o"), ("recall", "s"), ("f1", "^")):
        ax.plot(100 * t["threshold"], t[col], marker=marker, ms=4, label=col if col != "f1" else "F1")
    ax.axvline(100 * best["best_threshold"], color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="confidence threshold [%]", ylabel="ratio", ylim=(0, 1.02))
    ax.legend(frameon=False, fontsize=8)
    keep = (t["tp"] + t["fp"]) > 0  # thresholds without detections (Deep-CEE leaves out its 100 % row)
    ax_pr.plot(t.loc[keep, "recall"], t.loc[keep, "precision"], marker="o", ms=4, color="k")
    for r in t.loc[keep].itertuples(index=False):
        ax_pr.annotate(
            f"{100 * r.threshold:.0f}",
            (r.recall, r.precision),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
    fig.suptitle(f"Deep-CEE on {best['true_clusters']} test clusters", fontsize=9)
    save_figure(fig, png, pdf)


def run_deepcee_offsets(*, offsets, summary, match_kpc: float, png, pdf) -> None:
    """Distances of the detections from the nearest true centre at the best-F1 threshold (Deep-CEE Fig. 13).

    Parameters
    ----------
    offsets, summary : path-like
        ``deepcee/offsets.parquet`` and ``deepcee/summary.json``.
    match_kpc : float
        Config ``deepcee.match_kpc``, drawn as a line.
    png, pdf : path-like
        Output figure.
    """
    off = io.read_checked_table(offsets, OFFSET_UNITS)
    with open(summary, encoding="utf-8") as f:
        best = json.load(f)
    fig, (ax_all, ax_m) = new_figure(1, 2, height=3.2)
    near = off["nearest_kpc"].dropna().to_numpy()
    hi = max(3.0 * match_kpc, float(np.max(near)) if near.size else 0.0)
    ax_all.hist(near, bins=np.linspace(0.0, hi, 31), color="0.4")
    ax_all.axvline(match_kpc, color="C3", lw=1)
    ax_all.set(
        xlabel="distance to the nearest true centre [kpc]",
        ylabel="detections",
        title=f"all detections > {100 * best['best_threshold']:.0f} %",
    )
    matched = off.loc[off["matched"]]
    ax_m.hist(matched["distance_arcsec"].to_numpy(), bins=20, color="C0")
    ax_m.set(
        xlabel="offset of matched detections [arcsec]",
        ylabel="detections",
        title=f"{len(matched)} within {match_kpc:g} kpc",
    )
    save_figure(fig, png, pdf)
