"""CNN and MF along the noise ladder: DeepSZ Fig. 8 (section 3.4.1)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from skyhunt import io
from skyhunt.evaluation.pipeline import load_method_scores
from skyhunt.figures.style import method_label, new_figure, save_figure, stage_label
from skyhunt.metrics import f1_at, f1_curve


def stage_metrics(stage_scores: dict) -> pd.DataFrame:
    """Per noise stage and method: validation threshold and F1, test F1 there, test ROC AUC (DeepSZ 3.4.1).

    Parameters
    ----------
    stage_scores : dict
        Stage -> DataFrame from :func:`skyhunt.evaluation.pipeline.load_method_scores`.
    """
    rows = []
    for stage, table in stage_scores.items():
        val, test = (table[table["split"] == s] for s in ("validation", "test"))
        for m in ("cnn", "mf"):
            threshold, f1 = f1_curve(val[m].to_numpy(), val["label"].to_numpy(bool)).best
            auc = roc_auc_score(test["label"].to_numpy(bool), test[m].to_numpy())
            rows.append(
                {
                    "stage": stage,
                    "method": m,
                    "threshold": threshold,
                    "validation_f1": f1,
                    "test_f1": f1_at(test[m].to_numpy(), test["label"].to_numpy(bool), threshold),
                    "test_auc": float(auc),
                }
            )
    return pd.DataFrame(rows)


def plot_noise_components(stage_scores: dict, metrics: pd.DataFrame, stage_labels: dict, png, pdf) -> None:
    """DeepSZ Fig. 8, for the CNN and the MF: F1 against threshold (validation) and ROC (test) per stage.

    Parameters
    ----------
    stage_scores : dict
        Stage -> DataFrame from :func:`skyhunt.evaluation.pipeline.load_method_scores`, in ladder order.
    metrics : DataFrame
        From :func:`stage_metrics`.
    stage_labels : dict
        Stage -> legend label (e.g. "CMB+tSZ+kSZ").
    """
    fig, axes = new_figure(2, 2, height=6.4)
    colours = ladder_colours(len(stage_scores))
    for row, (m, xlabel) in enumerate(
        (("cnn", "CNN probability threshold"), ("mf", "MF signal-to-noise threshold"))
    ):
        for colour, (stage, table) in zip(colours, stage_scores.items(), strict=True):
            res = metrics[(metrics["stage"] == stage) & (metrics["method"] == m)].iloc[0]
            val, test = (table[table["split"] == s] for s in ("validation", "test"))
            curve = f1_curve(val[m].to_numpy(), val["label"].to_numpy(bool))
            axes[row, 0].step(
                curve.thresholds, curve.f1, where="post", color=colour, label=stage_labels[stage]
            )
            fpr, tpr, _ = roc_curve(test["label"].to_numpy(bool), test[m].to_numpy(), drop_intermediate=False)
            axes[row, 1].plot(
                fpr,
                tpr,
                color=colour,
                label=f"test F1 {res.test_f1:.2f}, AUC {res.test_auc:.3f}",
            )
        axes[row, 0].set_xlabel(xlabel)
        axes[row, 0].set_ylabel(f"{method_label(m)} F1 (validation)")
        axes[row, 0].set_ylim(0, 1)
        axes[row, 1].set_xscale("log")
        axes[row, 1].set_xlim(1e-4, 1)
        axes[row, 1].set_ylim(0, 1.02)
        axes[row, 1].set_xlabel("false-positive rate (test)")
        axes[row, 1].set_ylabel(f"{method_label(m)} true-positive rate (test)")
        axes[row, 1].legend(loc="lower right", frameon=False, fontsize=7)
    axes[1, 0].set_xlim(3, None)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False)
    save_figure(fig, png, pdf)


def ladder_colours(n: int) -> list:
    """``n`` colours along the noise ladder (dark to light)."""
    return [mpl.colormaps["plasma"](x) for x in np.linspace(0.0, 0.85, n)]


def run_noise_components(
    *, stages: list, sky_stages: list, index, cnn: list, mf: list, png, pdf, table
) -> None:
    """DeepSZ Fig. 8 for every stage of ``cnn.stages``, and its numbers as a CSV table.

    Parameters
    ----------
    stages : list of str
        Config ``cnn.stages``, in the order of ``cnn`` and ``mf``.
    sky_stages : list of dict
        Config ``sky.stages`` (for the stages' labels).
    index : path-like
        The cutout index.
    cnn, mf : list of path-like
        Each stage's CNN scores and per-cutout MF SNR.
    png, pdf : path-like
        Output figure.
    table : path-like
        Output CSV of the metrics per stage.
    """
    scores = {s: load_method_scores(index, c, m) for s, c, m in zip(stages, cnn, mf, strict=True)}
    metrics = stage_metrics(scores)
    with io.atomic_output(table) as tmp:
        metrics.to_csv(tmp, index=False, float_format="%.6g")
    plot_noise_components(scores, metrics, {s: stage_label(sky_stages, s) for s in stages}, png, pdf)
