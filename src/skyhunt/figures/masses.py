"""The mass figure (issue 16): ln(M_est / M_true) of test clusters against M500c and z, MF and CNN."""

from __future__ import annotations

import json

import numpy as np
from matplotlib.ticker import NullFormatter

from skyhunt.figures.style import method_colour, new_figure, save_figure
from skyhunt.masses.pipeline import CNN_MASS_COLUMNS, MASS_UNITS, metric_selection
from skyhunt.masses.readers import read_masses

#: Per method: label, marker, and the factor (M axis) or shift (z axis) of its binned points,
#: so the two methods' error bars sit side by side.
STYLE = {"mf": ("MF", "o", 0.97, -0.02), "cnn": ("CNN", "s", 1.03, 0.02)}


def _summary(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def run_mass_bias(
    *, table, summary, cnn_table, cnn_summary, footprint: dict, splits: dict, snr_min: float, png, pdf
) -> None:
    """ln(M_est / M_true) against true M500c and z: test clusters and the binned bias and scatter.

    Parameters
    ----------
    table, summary : path-like
        The MF mass table (rule ``mf_masses``) and its metrics (rule ``mf_mass_metrics``: binned
        bias with bootstrap intervals, scatter).
    cnn_table, cnn_summary : path-like
        The CNN mass table (rule ``cnn_masses``) and its metrics (rule ``cnn_mass_metrics``).
    footprint, splits : dict
        Config ``sky.footprint`` (deg) and ``cutouts.splits`` (the test stripe).
    snr_min : float
        Config ``masses.metrics.snr_min`` (MF candidates only; the CNN takes every test positive).
    png, pdf : path-like
        Output figure.
    """
    mf = read_masses(table, tuple(MASS_UNITS))
    cnn = read_masses(cnn_table, CNN_MASS_COLUMNS)
    used = {"mf": mf[metric_selection(mf, footprint, splits, snr_min)], "cnn": cnn[cnn["split"] == "test"]}
    stats = {"mf": _summary(summary), "cnn": _summary(cnn_summary)}
    fig, axes = new_figure(1, 2, height=3.4, sharey=True)
    for ax, col, key, log_x, label in (
        (axes[0], "m500c_true", "by_m500c", True, r"true $M_{500c}$ [$M_\odot$]"),
        (axes[1], "z", "by_z", False, "true redshift $z$"),
    ):
        for method, (name, marker, factor, shift) in STYLE.items():
            colour = method_colour(method)
            rows = used[method]
            ln_ratio = np.log(rows["m500c"].to_numpy() / rows["m500c_true"].to_numpy())
            ax.scatter(rows[col], ln_ratio, s=6, color=colour, alpha=0.3, lw=0, marker=marker)
            bins = [b for b in stats[method][key] if b["bias"] is not None]
            if not bins:
                continue
            lo, hi = np.array([b["lo"] for b in bins]), np.array([b["hi"] for b in bins])
            mid = np.sqrt(lo * hi) if log_x else 0.5 * (lo + hi)
            bias = np.array([b["bias"] for b in bins])
            err = np.array([[b["bias"] - b["bias_lo"], b["bias_hi"] - b["bias"]] for b in bins]).T
            scatter = np.array([b["scatter"] for b in bins])
            ax.fill_between(mid, bias - scatter, bias + scatter, color=colour, alpha=0.12, lw=0)
            at = mid * factor if log_x else mid + shift
            ax.errorbar(at, bias, yerr=err, fmt=marker, color=colour, ms=4, capsize=2, label=f"{name} bias")
        for level in (-0.2, 0.2):
            ax.axhline(level, color="0.5", ls=":", lw=0.8)
        ax.axhline(0.0, color="0.3", lw=0.8)
        edges = stats["mf"][key]
        ax.set_xlim(edges[0]["lo"], edges[-1]["hi"])  # the bins, also with no cluster
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(label)
    axes[0].set_ylabel(r"$\ln(M_{\rm est} / M_{\rm true})$")
    lines = []
    for method, what in (("mf", f"MF, SNR ≥ {snr_min:g}"), ("cnn", "CNN, positive cutouts")):
        a = stats[method]["all"]
        line = f"{what}: {a['n']} test clusters"
        if a["bias"] is not None:
            line += f", bias {a['bias']:+.3f}, scatter {a['scatter']:.3f}"
        lines.append(line)
    axes[0].set_title("\n".join(lines), loc="left", fontsize="small")
    axes[1].legend(fontsize="x-small", loc="lower right", title="± scatter: bands", title_fontsize="x-small")
    fig.tight_layout()
    save_figure(fig, png, pdf)
