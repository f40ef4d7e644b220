"""The transfer study's figures (issue 17): test F1 against the number of labelled target
cutouts N, and the confusion matrices before and after fine-tuning (DeepShadows, Tanoglidis et
al. 2021; Figs. 4 and 6 of its reproduction by Foote)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.figures.style import new_figure, save_figure
from skyhunt.transfer.readers import read_transfer_metrics

#: Labels and colours of the transfer study's methods.
TRANSFER_METHODS = {
    "zero_shot": ("CNN zero-shot", "#444444"),
    "fine_tune": ("CNN fine-tuned", "#d62728"),
    "scratch": ("CNN from scratch", "#1f77b4"),
    "mf": ("MF, source threshold", "#2ca02c"),
    "mf_maps": ("MF, noise from the maps", "#9467bd"),
}


def _read(metrics: list) -> pd.DataFrame:
    return pd.concat([read_transfer_metrics(p) for p in metrics], ignore_index=True)


def plot_transfer_f1(table: pd.DataFrame, png, pdf) -> None:
    """One panel per pair: test F1 against N (mean over seeds, bars: min to max) for the fine-tuned
    and from-scratch CNN; horizontal lines for the zero-shot CNN and the two MF variants.

    Parameters
    ----------
    table : DataFrame
        Rows of :data:`skyhunt.transfer.readers.TRANSFER_METRIC_UNITS`, every pair.
    png, pdf : path-like
        Output figure.
    """
    pairs = list(dict.fromkeys(table["pair"]))
    fig, axes = new_figure(1, len(pairs), height=3.4, sharey=True, squeeze=False)
    for ax, pair in zip(axes[0], pairs, strict=True):
        rows = table[table["pair"] == pair]
        trained = rows[rows["method"].isin(["fine_tune", "scratch"])]
        order = list(dict.fromkeys(trained["n_labelled"]))
        counts = trained.groupby("n_labelled", sort=False)["n_positives"].median().reindex(order)
        x = np.arange(len(order))
        for method, shift in (("fine_tune", -0.06), ("scratch", 0.06)):
            label, colour = TRANSFER_METHODS[method]
            f1 = trained[trained["method"] == method].groupby("n_labelled", sort=False)["f1"]
            mean, lo, hi = (f1.agg(stat).reindex(order).to_numpy() for stat in ("mean", "min", "max"))
            ax.errorbar(
                x + shift, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, color=colour, label=label
            )
        for method in ("zero_shot", "mf", "mf_maps"):
            label, colour = TRANSFER_METHODS[method]
            value = rows.loc[rows["method"] == method, "f1"]
            if len(value):
                ax.axhline(
                    float(value.iloc[0]), color=colour, ls="--" if method == "zero_shot" else ":", label=label
                )
        ax.set_xticks(
            x, [f"{n}\n({int(c)})" if n == "all" else str(n) for n, c in zip(order, counts, strict=True)]
        )
        ax.set_xlabel("labelled target positives N")
        ax.set_title(pair)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("test F1")
    axes[0][-1].legend(frameon=False, fontsize="small", loc="upper right")
    save_figure(fig, png, pdf)


def confusion_matrices(table: pd.DataFrame) -> dict:
    """Per pair, the test confusion matrices [[TN, FP], [FN, TP]] of the zero-shot CNN and of the
    CNN fine-tuned on the largest N, summed over seeds."""
    out = {}
    for pair, rows in table.groupby("pair", sort=False):
        tuned = rows[rows["method"] == "fine_tune"]
        largest = tuned["n_labelled"].iloc[-1]
        mats = {}
        for name, sel in (
            ("zero-shot", rows[rows["method"] == "zero_shot"]),
            (f"fine-tuned, N = {largest}", tuned[tuned["n_labelled"] == largest]),
        ):
            tn, fp, fn, tp = (int(sel[c].sum()) for c in ("tn", "fp", "fn", "tp"))
            mats[name] = np.array([[tn, fp], [fn, tp]])
        out[pair] = mats
    return out


def plot_transfer_confusion(table: pd.DataFrame, png, pdf) -> None:
    """Confusion matrices before and after fine-tuning, one row per pair, normalised per true class
    (the counts written in each cell), as DeepShadows shows them."""
    mats = confusion_matrices(table)
    fig, axes = new_figure(len(mats), 2, height=2.8 * len(mats), squeeze=False)
    for row, (pair, pair_mats) in zip(axes, mats.items(), strict=True):
        for ax, (name, m) in zip(row, pair_mats.items(), strict=True):
            frac = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
            ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
            for i in range(2):
                for j in range(2):
                    ax.text(
                        j,
                        i,
                        f"{frac[i, j]:.2f}\n({m[i, j]})",
                        ha="center",
                        va="center",
                        color="white" if frac[i, j] > 0.5 else "black",
                    )
            ax.set_xticks([0, 1], ["no cluster", "cluster"])
            ax.set_yticks([0, 1], ["no cluster", "cluster"])
            ax.set_xlabel("predicted")
            ax.set_title(f"{pair}: {name}")
        row[0].set_ylabel("true")
    save_figure(fig, png, pdf)


def run_transfer_f1(*, metrics: list, png, pdf) -> None:
    """F1 against N of every pair (each pair's ``transfer/<pair>/metrics.parquet``)."""
    plot_transfer_f1(_read(metrics), png, pdf)


def run_transfer_confusion(*, metrics: list, png, pdf) -> None:
    """The confusion matrices before and after fine-tuning of every pair."""
    plot_transfer_confusion(_read(metrics), png, pdf)
