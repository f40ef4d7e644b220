"""Threshold and ensemble figures: DeepSZ Figs. 5, 6a and 6b (section 3.2)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.evaluation.ensembles import and_f1
from skyhunt.evaluation.pipeline import read_ensembles
from skyhunt.figures.style import method_colour, method_label, new_figure, save_figure
from skyhunt.metrics import f1_curve


def _f1_panel(ax, scores, labels, rule, method, xlabel, bins):
    """F1 against threshold (validation) over the score histograms of positives and negatives.

    F1 counts every cutout; the histograms and the threshold axis start at ``bins[0]``. ``rule`` is
    the method's entry of ``thresholds.json`` (threshold, validation_f1, test_f1).
    """
    curve = f1_curve(scores, labels)
    shown = scores >= bins[0]
    hist = ax.twinx()
    hist.hist(
        [scores[shown & ~labels], scores[shown & labels]],
        bins=bins,
        stacked=True,
        color=["0.85", "0.6"],
        label=["negative cutouts", "positive cutouts"],
    )
    hist.set_yscale("log")
    hist.set_ylabel("cutouts per bin")
    ax.set_zorder(hist.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.step(
        curve.thresholds, curve.f1, where="post", color=method_colour(method), lw=1.5, label="F1 (validation)"
    )
    threshold = rule["threshold"]
    ax.axvline(threshold, color="tab:red", ls="--", lw=1)
    ax.plot(
        [],
        [],
        color="tab:red",
        ls="--",
        label=f"threshold {threshold:.3g}: F1 {rule['validation_f1']:.2f} val, {rule['test_f1']:.2f} test",
    )
    ax.set_ylim(0, 1)
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("F1 score")
    hist.set_ylim(bottom=0.5)
    handles = ax.get_legend_handles_labels()[0] + hist.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)


def plot_f1_threshold(scores: pd.DataFrame, thresholds: dict, png, pdf) -> None:
    """DeepSZ Fig. 5: F1 against threshold on validation for the MF (SNR) and the CNN (probability).

    Parameters
    ----------
    scores : DataFrame
        ``results/ensembles/scores.parquet`` (split, label, mf, cnn).
    thresholds : dict
        ``methods`` of ``results/ensembles/thresholds.json``.
    png, pdf : path-like
        Outputs.
    """
    val = scores[scores["split"] == "validation"]
    labels = val["label"].to_numpy(bool)
    fig, axes = new_figure(1, 2, height=4.2)
    snr = val["mf"].to_numpy()
    detected = snr > 0  # DeepSZ Fig. 5 leaves out the cutouts without a detection (SNR < 3)
    _f1_panel(
        axes[0],
        snr,
        labels,
        thresholds["mf"],
        "mf",
        "MF signal-to-noise threshold",
        np.linspace(np.floor(snr[detected].min()), np.ceil(snr.max()) + 1, 41),
    )
    axes[0].set_title(f"MF ({(~detected).sum()} cutouts without a detection not drawn)")
    _f1_panel(
        axes[1],
        val["cnn"].to_numpy(),
        labels,
        thresholds["cnn"],
        "cnn",
        "CNN probability threshold",
        np.linspace(0, 1, 41),
    )
    axes[1].set_title("CNN")
    fig.tight_layout()
    save_figure(fig, png, pdf)


def plot_ensemble_prod(scores: pd.DataFrame, thresholds: dict, png, pdf) -> None:
    """DeepSZ Fig. 6a: F1 against the rank-product threshold, validation (chosen here) and test.

    Parameters
    ----------
    scores : DataFrame
        ``results/ensembles/scores.parquet`` (split, label, prod).
    thresholds : dict
        ``methods`` of ``results/ensembles/thresholds.json``.
    png, pdf : path-like
        Outputs.
    """
    fig, ax = new_figure(1, 1, height=4.2)
    rule = thresholds["prod"]
    lo = 0.8
    for split, style in (("validation", "-"), ("test", ":")):
        part = scores[scores["split"] == split]
        curve = f1_curve(part["prod"].to_numpy(), part["label"].to_numpy(bool))
        keep = curve.thresholds >= lo
        ax.step(
            curve.thresholds[keep],
            curve.f1[keep],
            where="post",
            ls=style,
            color=method_colour("prod"),
            label=f"EnsemblePROD, {split}",
        )
    t = rule["threshold"]
    ax.axvline(t, color="tab:red", ls="--", lw=1)
    ax.plot(
        [],
        [],
        color="tab:red",
        ls="--",
        label=f"chosen on validation: q_CNN q_MF >= {t:.3f} "
        f"(rank {100 * rule['validation_rank_percentile']:.1f} %)\n"
        f"F1 {rule['validation_f1']:.2f} validation, {rule['test_f1']:.2f} test",
    )
    for m, ls in (("mf", "-."), ("cnn", "--")):
        ax.axhline(
            thresholds[m]["test_f1"],
            color=method_colour(m),
            ls=ls,
            lw=1,
            label=f"{method_label(m)} alone, test F1",
        )
    ax.set_xlim(lo, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("rank-product threshold q_CNN x q_MF (rank percentiles within the split)")
    ax.set_ylabel("F1 score")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    fig.tight_layout()
    save_figure(fig, png, pdf)


def plot_ensemble_and(scores: pd.DataFrame, thresholds: dict, png, pdf, n_grid: int = 300) -> None:
    """DeepSZ Fig. 6b: validation F1 of EnsembleAND over the MF and CNN thresholds, choice marked.

    The map is evaluated exactly on an ``n_grid`` x ``n_grid`` display grid (the chosen pair itself
    comes from the exact search of :func:`skyhunt.evaluation.ensembles.best_and`).
    """
    val = scores[scores["split"] == "validation"]
    labels = val["label"].to_numpy(bool)
    mf, cnn = val["mf"].to_numpy(), val["cnn"].to_numpy()
    rule = thresholds["and"]
    snr_max = max(2 * rule["threshold_mf"], np.percentile(mf[labels], 90))
    snr_t = np.linspace(3.0, snr_max, n_grid)
    p_t = np.linspace(0.0, 1.0, n_grid)
    f1 = and_f1(mf, cnn, labels, snr_t, p_t)
    fig, ax = new_figure(1, 1, height=4.0)
    mesh = ax.pcolormesh(snr_t, p_t, f1.T, shading="nearest", cmap="viridis", vmin=0, vmax=1, rasterized=True)
    lines = ax.contour(snr_t, p_t, f1.T, levels=[0.5, 0.7, 0.8], colors="w", linewidths=0.7)
    ax.clabel(lines, fmt="F1 %.1f", fontsize=7)
    fig.colorbar(mesh, ax=ax, label="F1 score (validation)")
    ax.plot(
        rule["threshold_mf"],
        rule["threshold_cnn"],
        "kx",
        ms=10,
        mew=2.5,
        label=f"chosen: SNR >= {rule['threshold_mf']:.2f} and p >= {rule['threshold_cnn']:.3f}\n"
        f"F1 {rule['validation_f1']:.2f} validation, {rule['test_f1']:.2f} test",
    )
    ax.plot(
        thresholds["mf"]["threshold"],
        0,
        "^",
        color=method_colour("mf"),
        ms=8,
        clip_on=False,
        label=f"MF-alone threshold (SNR {thresholds['mf']['threshold']:.1f})",
    )
    ax.plot(
        3.0,
        thresholds["cnn"]["threshold"],
        ">",
        color="w",
        mec="k",
        ms=8,
        clip_on=False,
        label=f"CNN-alone threshold (p {thresholds['cnn']['threshold']:.3f})",
    )
    ax.set_xlabel("MF signal-to-noise threshold")
    ax.set_ylabel("CNN probability threshold")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    fig.tight_layout()
    save_figure(fig, png, pdf)


def run_f1_threshold(*, scores, thresholds, png, pdf) -> None:
    """The ``f1_threshold`` rule: :func:`plot_f1_threshold` of the ensembles' outputs (paths)."""
    plot_f1_threshold(*read_ensembles(scores, thresholds), png, pdf)


def run_ensemble_prod(*, scores, thresholds, png, pdf) -> None:
    """The ``ensemble_prod`` rule: :func:`plot_ensemble_prod` of the ensembles' outputs (paths)."""
    plot_ensemble_prod(*read_ensembles(scores, thresholds), png, pdf)


def run_ensemble_and(*, scores, thresholds, png, pdf) -> None:
    """The ``ensemble_and`` rule: :func:`plot_ensemble_and` of the ensembles' outputs (paths)."""
    plot_ensemble_and(*read_ensembles(scores, thresholds), png, pdf)
