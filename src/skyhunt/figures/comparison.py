"""The noise ladder of several setups in one figure (DeepSZ Fig. 8's test F1, per setup)."""

from __future__ import annotations

import numpy as np

from skyhunt.evaluation.comparison import LADDER_COLUMNS, read_setup_tables
from skyhunt.figures.style import method_label, new_figure, save_figure


def plot_compare_noise_ladder(ladder, png, pdf) -> None:
    """Test F1 at the validation threshold along the noise ladder, one line per setup.

    Parameters
    ----------
    ladder : DataFrame
        From :func:`skyhunt.evaluation.comparison.read_setup_tables` of the per-stage metrics.
    png, pdf : path-like
        Output figure.
    """
    stages = list(dict.fromkeys(ladder["stage"]))
    fig, axes = new_figure(1, 2, height=3.4, sharey=True)
    markers = "osD^v<>p"
    for ax, method in zip(axes, ("mf", "cnn"), strict=True):
        for k, (setup, rows) in enumerate(ladder[ladder["method"] == method].groupby("setup", sort=False)):
            pos = [stages.index(s) for s in rows["stage"]]
            ax.plot(pos, rows["test_f1"], marker=markers[k % len(markers)], label=setup)
        ax.set_xticks(np.arange(len(stages)), ["+" + s if i else s for i, s in enumerate(stages)])
        ax.set_xlabel("noise stage (cumulative)")
        ax.set_title(method_label(method))
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("test F1 at the validation threshold")
    axes[1].legend(frameon=False, loc="lower left")
    save_figure(fig, png, pdf)


def run_compare_noise_ladder(*, setups: list, tables: list, png, pdf) -> None:
    """Compare the setups' noise ladders (each setup's ``tables/noise_components.csv``).

    Parameters
    ----------
    setups : list of str
        Names of the setups with results, in the order of ``tables``.
    tables : list of path-like
        Each setup's per-stage metrics (:func:`skyhunt.figures.noise.run_noise_components`).
    png, pdf : path-like
        Output figure.
    """
    plot_compare_noise_ladder(read_setup_tables(setups, tables, LADDER_COLUMNS), png, pdf)
