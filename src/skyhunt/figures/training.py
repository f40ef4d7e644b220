"""CNN training history through the ratio ladder (DeepSZ 2.2.2 and Fig. 4).

The ladder trains on samples S_r with an effective negative-to-positive ratio r = 1, 2, ...; each
rung of the ladder starts from the best weights of the previous one, and the exported model is the best
(lowest oversampled-validation loss) checkpoint of the chosen rung (highest F1 on the full
validation set; :func:`skyhunt.cnn.training.run_train_cnn`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cnn.readers import read_history, read_summary
from skyhunt.figures.style import new_figure, save_figure, stage_label

log = logging.getLogger("skyhunt.figures")

#: Colours of the training and validation curves and of the ratio r.
SPLIT_STYLE = {"train": ("train", "0.55"), "val": ("validation (oversampled to r)", "tab:red")}
RATIO_COLOUR = "tab:blue"


def ratio_segments(summary: dict) -> pd.DataFrame:
    """The batch range of every rung of the ratio ladder.

    Parameters
    ----------
    summary : dict
        ``training.json`` (:func:`read_summary`).

    Returns
    -------
    DataFrame
        One row per rung in training order: ratio, start, stop (its batches are
        start <= batch < stop, counted from the start of the ladder), validation_f1 (full
        validation set), best_validation_loss, chosen (bool).
    """
    rungs = summary["rungs"]
    batches = np.array([s["batches"] for s in rungs], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(batches)[:-1]])
    return pd.DataFrame(
        {
            "ratio": [s["ratio"] for s in rungs],
            "start": start,
            "stop": start + batches,
            "validation_f1": [float(s["validation_f1"]) for s in rungs],
            "best_validation_loss": [float(s["best_validation_loss"]) for s in rungs],
            "chosen": [s["ratio"] == summary["chosen_ratio"] for s in rungs],
        }
    )


def exported_batch(history: pd.DataFrame, segments: pd.DataFrame) -> int:
    """The batch of the exported weights: the lowest validation loss within the chosen rung.

    Raises
    ------
    ValueError
        If the history has no validation row in the chosen rung's batch range.
    """
    chosen = segments[segments["chosen"]].iloc[0]
    val = history[
        (history["split"] == "val")
        & (history["batch"] >= chosen["start"])
        & (history["batch"] < chosen["stop"])
    ]
    if val.empty:
        raise ValueError(f"no validation loss logged in the chosen rung r = {chosen['ratio']}")
    return int(val["batch"].iloc[int(np.argmin(val["loss"].to_numpy()))])


def plot_training_history(
    history: pd.DataFrame, segments: pd.DataFrame, best: int, title: str, png_path, pdf_path
) -> None:
    """DeepSZ Fig. 4: loss (top) and balanced accuracy (bottom) against batch, r on twin axes.

    Parameters
    ----------
    history : DataFrame
        :func:`read_history`.
    segments : DataFrame
        :func:`ratio_segments`.
    best : int
        Batch of the exported weights (:func:`exported_batch`), marked with a star.
    title : str
    png_path, pdf_path : path-like
    """
    fig, axes = new_figure(2, 1, height=5.6, sharex=True, layout="constrained")
    chosen = segments[segments["chosen"]].iloc[0]
    steps_x = np.append(segments["start"].to_numpy(), segments["stop"].iloc[-1])
    steps_r = np.append(segments["ratio"].to_numpy(), segments["ratio"].iloc[-1])
    panels = (("loss", "cross-entropy loss"), ("balanced_accuracy", "balanced accuracy"))
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        span = ax.axvspan(chosen["start"], chosen["stop"], color="gold", alpha=0.25, lw=0)
        for split, (label, colour) in SPLIT_STYLE.items():
            part = history[history["split"] == split]
            style = {"lw": 0.8, "alpha": 0.8} if split == "train" else {"lw": 1.4, "marker": "o", "ms": 3}
            ax.plot(part["batch"], part[column], color=colour, label=label, **style)
        point = history[(history["split"] == "val") & (history["batch"] == best)]
        ax.plot(point["batch"], point[column], "*", color="black", ms=11, zorder=5, label="exported model")
        ax.set_ylabel(ylabel)
        twin = ax.twinx()
        (ratio_line,) = twin.step(steps_x, steps_r, where="post", color=RATIO_COLOUR, lw=1.2, ls="--")
        twin.set_ylabel("ratio r (negatives per positive)", color=RATIO_COLOUR)
        twin.tick_params(axis="y", colors=RATIO_COLOUR)
        twin.set_ylim(0, segments["ratio"].max() + 1)
        twin.yaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, lw=0.5)
    axes[1].set_ylim(top=1.0)
    axes[1].set_xlabel("batch (counted over the whole ladder)")
    axes[0].set_xlim(0, segments["stop"].iloc[-1])
    for _, seg in segments.iterrows():
        axes[0].annotate(
            f"r = {seg['ratio']}: F1 {seg['validation_f1']:.2f}",
            ((seg["start"] + seg["stop"]) / 2, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            fontweight="bold" if seg["chosen"] else "normal",
        )
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [ratio_line, span]
    labels += ["ratio r (right axis)", f"chosen rung r = {chosen['ratio']}"]
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    axes[0].set_title(title, pad=14)
    save_figure(fig, png_path, pdf_path)


def run_training_history(*, history, summary, stages: list[dict], stage: str, png, pdf) -> None:
    """The ``training_history`` rule: DeepSZ Fig. 4 for the evaluation stage's CNN.

    Parameters
    ----------
    history, summary : path-like
        ``results/cnn/<stage>/history.csv`` and ``training.json``.
    stages : list of dict
        Config ``sky.stages`` (for the stage's label).
    stage : str
        The noise stage of the CNN shown.
    png, pdf : path-like
        Outputs.
    """
    rows = read_history(history)
    segments = ratio_segments(read_summary(summary))
    outside = ~rows["batch"].between(0, segments["stop"].iloc[-1] - 1)
    if outside.any():
        raise io.InputFileError(
            f"{history}: batches {rows['batch'][outside].tolist()[:5]} lie outside the "
            f"{segments['stop'].iloc[-1]} batches that {summary} lists"
        )
    best = exported_batch(rows, segments)
    log.info(
        "chosen r = %d; exported weights from batch %d",
        segments.loc[segments["chosen"], "ratio"].iloc[0],
        best,
    )
    plot_training_history(
        rows,
        segments,
        best,
        f"CNN training ({stage_label(stages, stage)}); F1: full validation set, per rung",
        png,
        pdf,
    )
