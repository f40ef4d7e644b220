"""The MF mass figure (issue 16): ln(M_est / M_true) of test clusters against M500c and z."""

from __future__ import annotations

import json

import numpy as np
from matplotlib.ticker import NullFormatter

from skyhunt.figures.style import method_colour, new_figure, save_figure
from skyhunt.masses.pipeline import MASS_UNITS, metric_selection
from skyhunt.masses.readers import read_masses


def run_mass_bias(*, table, summary, footprint: dict, splits: dict, snr_min: float, png, pdf) -> None:
    """ln(M_est / M_true) against true M500c and z: test clusters and the binned bias and scatter.

    Parameters
    ----------
    table : path-like
        The MF mass table (rule ``mf_masses``).
    summary : path-like
        Its metrics (rule ``mf_mass_metrics``: binned bias with bootstrap intervals, scatter).
    footprint, splits : dict
        Config ``sky.footprint`` (deg) and ``cutouts.splits`` (the test stripe).
    snr_min : float
        Config ``masses.metrics.snr_min``.
    png, pdf : path-like
        Output figure.
    """
    masses = read_masses(table, tuple(MASS_UNITS))
    with open(summary, encoding="utf-8") as f:
        stats = json.load(f)
    used = masses[metric_selection(masses, footprint, splits, snr_min)]
    ln_ratio = np.log(used["m500c"].to_numpy() / used["m500c_true"].to_numpy())
    fig, axes = new_figure(1, 2, height=3.2, sharey=True)
    colour = method_colour("mf")
    for ax, col, key, log_x, label in (
        (axes[0], "m500c_true", "by_m500c", True, r"true $M_{500c}$ [$M_\odot$]"),
        (axes[1], "z", "by_z", False, "true redshift $z$"),
    ):
        ax.scatter(used[col], ln_ratio, s=6, color=colour, alpha=0.4, lw=0, label="test clusters")
        rows = [b for b in stats[key] if b["bias"] is not None]
        if rows:
            lo, hi = np.array([b["lo"] for b in rows]), np.array([b["hi"] for b in rows])
            mid = np.sqrt(lo * hi) if log_x else 0.5 * (lo + hi)
            bias = np.array([b["bias"] for b in rows])
            err = np.array([[b["bias"] - b["bias_lo"], b["bias_hi"] - b["bias"]] for b in rows]).T
            scatter = np.array([b["scatter"] for b in rows])
            ax.errorbar(mid, bias, yerr=err, fmt="o", color="k", ms=4, capsize=2, label="bias (mean)")
            band = {"color": "k", "alpha": 0.12, "lw": 0, "label": "± scatter"}
            ax.fill_between(mid, bias - scatter, bias + scatter, **band)
        for level in (-0.2, 0.2):
            ax.axhline(level, color="0.5", ls=":", lw=0.8)
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_xlim(stats[key][0]["lo"], stats[key][-1]["hi"])  # the bins, also with no cluster
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(label)
    axes[0].set_ylabel(r"$\ln(M_{\rm est} / M_{\rm true})$")
    a = stats["all"]
    title = f"test, SNR ≥ {snr_min:g}: {a['n']} clusters"
    if a["bias"] is not None:
        title += f", bias {a['bias']:+.3f}, scatter {a['scatter']:.3f}"
    axes[0].set_title(title, loc="left", fontsize="small")
    axes[1].legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    save_figure(fig, png, pdf)
