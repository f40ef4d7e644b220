"""The Kosiba figure (issue 18): test accuracy and AUC of each channel set, with and without
augmentation, mean ± std over the seeds, beside Kosiba's values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.figures.style import new_figure, save_figure
from skyhunt.multiwave.channels import CHANNEL_SETS
from skyhunt.multiwave.metrics import KOSIBA

#: Axis labels of the channel sets.
SET_LABELS = {"mm": "mm", "xray": "X-ray", "optical": "optical g,r,i", "all": "all"}


def run_kosiba_figure(*, table, png, pdf) -> None:
    """Accuracy and AUC per channel set (bars: augmented, hatched: not; diamonds: Kosiba).

    Parameters
    ----------
    table : path-like
        ``kosiba/table.csv`` (rule ``kosiba_table``).
    png, pdf : path-like
        Output figure.
    """
    try:
        summary = pd.read_csv(table)
    except (OSError, ValueError) as err:
        raise io.InputFileError(f"{table}: not a Kosiba table ({err})") from err
    io.require_columns(summary, ("channels", "augment", "accuracy_mean", "auc_mean"), table)
    fig, axes = new_figure(1, 2, height=3.0, sharey=True)
    x = np.arange(len(CHANNEL_SETS))
    for ax, metric, title in ((axes[0], "accuracy", "test accuracy"), (axes[1], "auc", "test AUC")):
        for augment, shift, hatch in ((True, -0.2, None), (False, 0.2, "//")):
            rows = summary[summary["augment"].astype(bool) == augment].set_index("channels")
            mean = [rows[f"{metric}_mean"].get(c, np.nan) for c in CHANNEL_SETS]
            std = [rows[f"{metric}_std"].get(c, np.nan) for c in CHANNEL_SETS]
            label = "flips, quarter turns" if augment else "no augmentation"
            ax.bar(x + shift, mean, 0.38, yerr=std, hatch=hatch, color="C0", alpha=0.8, label=label)
            paper = [KOSIBA.get((c, augment), {}).get(metric, (np.nan,))[0] for c in CHANNEL_SETS]
            ax.plot(x + shift, paper, "D", color="k", ms=4, label="Kosiba" if augment else None)
        ax.set_xticks(x, [SET_LABELS[c] for c in CHANNEL_SETS])
        ax.set_title(title)
        ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
    axes[0].set_ylim(0.0, 1.05)
    axes[0].legend(fontsize="small", loc="lower left")
    save_figure(fig, png, pdf)
