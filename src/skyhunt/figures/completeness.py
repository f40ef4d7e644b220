"""Completeness against mass and redshift and the selection function (DeepSZ 3.5, Figs. 10-12)."""

from __future__ import annotations

import logging

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from skyhunt.evaluation.completeness import (
    anchored_edges,
    read_halo_detections,
    recall_curves,
    selection_grid,
)
from skyhunt.figures.style import method_colour, method_label, new_figure, save_figure, stage_label

log = logging.getLogger("skyhunt.figures")

#: Methods drawn with error bars and in the ratio panel (DeepSZ Figs. 10-11), then the lighter extras.
MAIN = ("cnn", "mf", "prod")
EXTRA = ("and", "learned")
#: Columns of the selection-function figure, as DeepSZ Fig. 12.
GRID_METHODS = ("cnn", "prod", "mf")
#: Histogram colour (light grey: the DeepSZ blue would clash with EnsemblePROD).
COUNTS_COLOUR = "0.85"
CUT_COLOUR = "tab:red"
#: Ratio panel: log scale from 1 / RATIO_RANGE to RATIO_RANGE.
RATIO_RANGE = 4.5
RATIO_TICKS = (0.25, 0.5, 1, 2, 4)
#: Horizontal shift between the methods' error bars, as a fraction of a bin.
DODGE = 0.12


def plot_recall_curves(
    curves: pd.DataFrame,
    counts: pd.DataFrame,
    selections: list[tuple[str, str, str]],
    xlabel: str,
    cut: float,
    cut_label: str,
    log_x: bool,
    title: str,
    png_path,
    pdf_path,
) -> None:
    """Recall against one halo property, with halo counts behind and ratios to EnsemblePROD below.

    Parameters
    ----------
    curves : pandas.DataFrame
        :func:`skyhunt.evaluation.completeness.recall_curves` output with
        ``lo`` and ``hi`` in plotted (linear) units.
    counts : pandas.DataFrame
        lo, hi, n: halos per bin, drawn as a histogram on a right axis.
    selections : list of (name, label, linestyle)
        Halo selections of ``curves``; the first gets error bars.
    xlabel : str
        With units.
    cut : float
        The training cut (red vertical line), in plotted units.
    cut_label : str
    log_x : bool
        Logarithmic x axis (bin centres geometric).
    title : str
    png_path, pdf_path : path-like
    """
    fig, (ax, rax) = new_figure(2, 1, height=5.0, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    hax = ax.twinx()
    hax.stairs(counts["n"], np.r_[counts["lo"], counts["hi"].iloc[-1]], fill=True, color=COUNTS_COLOUR)
    hax.set_yscale("log")
    hax.set_ylim(0.5, None)
    hax.set_ylabel("Counts of objects")
    ax.set_zorder(hax.get_zorder() + 1)
    ax.patch.set_visible(False)

    def centre(lo, hi):
        return np.sqrt(lo * hi) if log_x else 0.5 * (lo + hi)

    def dodge(lo, hi, i):
        shift = DODGE * (i - 1)
        return lo * (hi / lo) ** (0.5 + shift) if log_x else lo + (hi - lo) * (0.5 + shift)

    first = selections[0][0]
    prod = {s: curves[(curves["selection"] == s) & (curves["method"] == "prod")] for s, _, _ in selections}
    for s, _, ls in selections:
        for i, m in enumerate(MAIN + EXTRA):
            c = curves[(curves["selection"] == s) & (curves["method"] == m)]
            lo, hi, r = c["lo"].to_numpy(), c["hi"].to_numpy(), c["recall"].to_numpy()
            extra = m in EXTRA
            style = dict(
                color=method_colour(m), ls=ls, lw=0.9 if extra else 1.5, alpha=0.55 if extra else 1.0
            )
            if s == first and not extra:
                ax.errorbar(
                    dodge(lo, hi, i),
                    r,
                    yerr=[r - c["lower"].to_numpy(), c["upper"].to_numpy() - r],
                    marker="o",
                    ms=3,
                    capsize=2,
                    elinewidth=0.8,
                    **style,
                )
            else:
                ax.plot(centre(lo, hi), r, **style)
            if m in ("cnn", "mf"):
                ref = prod[s]["recall"].to_numpy()
                # log axis: shown where both recalls are non-zero
                ratio = np.divide(r, ref, out=np.full(r.size, np.nan), where=(ref > 0) & (r > 0))
                rax.plot(centre(lo, hi), ratio, marker="o" if s == first else None, ms=3, **style)
    for a in (ax, rax):
        a.axvline(cut, color=CUT_COLOUR, lw=1.2)
    if log_x:
        ax.set_xscale("log")
        _label_ticks(rax.xaxis, counts["lo"].iloc[0], counts["hi"].iloc[-1])
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("Completeness (recall)")
    ax.set_title(title)
    rax.axhline(1.0, color="0.4", lw=0.8, ls=":")
    rax.set_yscale("log")
    rax.set_ylim(1 / RATIO_RANGE, RATIO_RANGE)
    rax.set_yticks(RATIO_TICKS, [f"{t:g}" for t in RATIO_TICKS])
    rax.minorticks_off()
    rax.set_ylabel("Ratio to\nEnsemblePROD")
    rax.set_xlabel(xlabel)
    handles = [Line2D([], [], color=method_colour(m), lw=1.5, label=method_label(m)) for m in MAIN]
    handles += [
        Line2D([], [], color=method_colour(m), lw=0.9, alpha=0.55, label=method_label(m)) for m in EXTRA
    ]
    handles += [Line2D([], [], color="0.3", ls=ls, label=label) for _, label, ls in selections]
    handles += [
        Line2D([], [], color=CUT_COLOUR, lw=1.2, label=cut_label),
        Patch(color=COUNTS_COLOUR, label="Halos per bin (right axis)"),
    ]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False)
    save_figure(fig, png_path, pdf_path)


def plot_selection_function(
    rows: list[dict], mass_cut: float, min_per_bin: int, title: str, png_path, pdf_path
):
    """Detected percentage in 2-D bins: one row per property against M_vir, one column per method.

    Parameters
    ----------
    rows : list of dict
        Each: ``xlabel`` (with units), ``x_edges`` (linear units), ``log_x``,
        ``y_edges`` (M_vir edges, M_sun) and ``fraction`` (method -> array
        [x bin, y bin] in [0, 1], NaN in bins left blank).
    mass_cut : float
        Training mass cut, M_sun (dashed line).
    min_per_bin : int
        Bins with fewer halos are blank (stated in the figure).
    title : str
    png_path, pdf_path : path-like
    """
    fig, axes = new_figure(
        len(rows),
        len(GRID_METHODS),
        height=2.5 * len(rows) + 0.6,
        sharey=True,
        sharex="row",
        squeeze=False,
        layout="constrained",
    )
    # Greens from a visible pale green, so that 0 % differs from a blank (white) bin
    cmap = mcolors.ListedColormap(colormaps["Greens"](np.linspace(0.12, 1.0, 256)))
    norm = mcolors.Normalize(0.0, 100.0)
    mesh = None
    for r, row in enumerate(rows):
        for c, m in enumerate(GRID_METHODS):
            ax = axes[r, c]
            mesh = ax.pcolormesh(
                row["x_edges"], row["y_edges"], 100.0 * row["fraction"][m].T, cmap=cmap, norm=norm
            )
            ax.axhline(mass_cut, color="black", ls="--", lw=1.0)
            ax.set_yscale("log")
            _label_ticks(ax.yaxis, row["y_edges"][0], row["y_edges"][-1])
            if row["log_x"]:
                ax.set_xscale("log")
                _label_ticks(ax.xaxis, row["x_edges"][0], row["x_edges"][-1])
            ax.set_xlabel(row["xlabel"])
            if r == 0:
                ax.set_title(method_label(m))
        axes[r, 0].set_ylabel(r"$M_{\rm vir}$ [M$_\odot$]")
    cbar = fig.colorbar(mesh, ax=axes, fraction=0.04, pad=0.01)
    cbar.set_label("% detected")
    fig.suptitle(f"{title}; white: fewer than {min_per_bin} halos per bin", fontsize=9)
    save_figure(fig, png_path, pdf_path)


def _mass_edges(det: pd.DataFrame, m_vir_min: float, mass_cut: float, dex: float) -> np.ndarray:
    """log10 M_vir edges from the lowest mass counted to the heaviest halo, the mass cut on an edge."""
    return anchored_edges(
        np.log10(m_vir_min), np.log10(det["m_vir"].max()) + 1e-9, dex, anchor=np.log10(mass_cut)
    )


def _label_ticks(axis, lo: float, hi: float) -> None:
    """Label a logarithmic axis at 1, 2 and 5 times the powers of ten within [lo, hi] (plain numbers
    between 0.1 and 100, else a x 10^n), without minor labels."""
    decades = 10.0 ** np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    ticks = [t for t in np.outer(decades, (1, 2, 5)).ravel() if lo <= t <= hi]
    axis.set_ticks(ticks, [_number(t) for t in ticks])
    axis.set_minor_formatter(NullFormatter())


def _number(x: float) -> str:
    if 0.1 <= x < 100:
        return f"{x:g}"
    exponent = int(np.floor(np.log10(x)))
    mantissa = x / 10**exponent
    return rf"$10^{{{exponent}}}$" if round(mantissa, 2) == 1 else rf"${mantissa:.2g}\times10^{{{exponent}}}$"


def _msun(mass: float) -> str:
    """A mass in M_sun as mathtext, e.g. 2e14 -> "2×10^14 M_sun"."""
    return rf"{_number(mass)} M$_\odot$"


def _mass_above(mass: float) -> str:
    return rf"$M_{{\rm vir}} \geq$ {_msun(mass)}"


def _linear(curves: pd.DataFrame, log: bool) -> pd.DataFrame:
    return curves.assign(lo=10 ** curves["lo"], hi=10 ** curves["hi"]) if log else curves


def _title(stages: list[dict], stage: str, n: int, what: str) -> str:
    return f"Test split, {stage_label(stages, stage)}: {n} halos {what}"


def run_completeness_mass(
    *,
    detections,
    positive: dict,
    halo_bins: dict,
    interval: float,
    stages: list[dict],
    stage: str,
    png,
    pdf,
) -> None:
    """DeepSZ Fig. 10: recall against M_vir of test halos, all z (solid) and z >= z_min (dashed).

    Parameters
    ----------
    detections : path-like
        Per-halo detection table (rule ``halo_detections``).
    positive : dict
        Config ``cutouts.positive``: the training cuts (m_vir_min in M_sun, z_min).
    halo_bins : dict
        Config ``evaluation.halos`` keys m_vir_min (M_sun) and mass_bin_dex, the wanted width of
        the mass bins in dex (adjusted to put the mass cut on an edge).
    interval : float
        Central probability of the error bars.
    stages : list of dict
        Config ``sky.stages`` (for the stage label).
    stage : str
        Evaluation noise stage.
    png, pdf : path-like
        Output figure.
    """
    det = read_halo_detections(detections)
    pos = positive
    edges = _mass_edges(det, halo_bins["m_vir_min"], pos["m_vir_min"], halo_bins["mass_bin_dex"])
    logm = np.log10(det["m_vir"].to_numpy())
    selections = [
        ("all", "all z", "-"),
        ("zcut", f"z ≥ {pos['z_min']:g}", "--"),
    ]
    masks = {"all": np.ones(len(det), bool), "zcut": det["z"].to_numpy() >= pos["z_min"]}
    curves = _linear(recall_curves(det, logm, edges, masks, MAIN + EXTRA, interval), log=True)
    counts = curves[(curves["selection"] == "all") & (curves["method"] == "prod")]
    _log_curves(curves, "M_vir [M_sun]")
    plot_recall_curves(
        curves,
        counts,
        selections,
        r"$M_{\rm vir}$ [M$_\odot$]",
        pos["m_vir_min"],
        f"training cut {_msun(pos['m_vir_min'])}",
        True,
        _title(stages, stage, len(det), f"with {_mass_above(halo_bins['m_vir_min'])}"),
        png,
        pdf,
    )


def run_completeness_redshift(
    *,
    detections,
    positive: dict,
    redshift_bin: float,
    interval: float,
    stages: list[dict],
    stage: str,
    png,
    pdf,
) -> None:
    """DeepSZ Fig. 11: recall against redshift of the test halos above the training mass cut.

    Parameters
    ----------
    detections : path-like
        Per-halo detection table (rule ``halo_detections``).
    positive : dict
        Config ``cutouts.positive``: the training cuts (m_vir_min in M_sun, z_min).
    redshift_bin : float
        Config ``evaluation.halos.redshift_bin``: the wanted width of the redshift bins
        (adjusted to put the redshift cut on an edge).
    interval : float
        Central probability of the error bars.
    stages : list of dict
        Config ``sky.stages``.
    stage : str
        Evaluation noise stage.
    png, pdf : path-like
        Output figure.
    """
    det = read_halo_detections(detections)
    pos = positive
    massive = det[det["m_vir"].to_numpy() >= pos["m_vir_min"]].reset_index(drop=True)
    if massive.empty:
        raise ValueError(f"{detections}: no test halo with M_vir >= {pos['m_vir_min']:.3g} M_sun")
    z = massive["z"].to_numpy()
    edges = anchored_edges(0.0, z.max() + 1e-9, redshift_bin, anchor=pos["z_min"])
    masks = {"all": np.ones(len(massive), bool)}
    curves = recall_curves(massive, z, edges, masks, MAIN + EXTRA, interval)
    counts = curves[curves["method"] == "prod"]
    _log_curves(curves, "z")
    plot_recall_curves(
        curves,
        counts,
        [("all", _mass_above(pos["m_vir_min"]), "-")],
        "Redshift z",
        pos["z_min"],
        f"training cut z = {pos['z_min']:g}",
        False,
        _title(stages, stage, len(massive), f"with {_mass_above(pos['m_vir_min'])}"),
        png,
        pdf,
    )


def run_selection_function(
    *,
    detections,
    positive: dict,
    halo_bins: dict,
    stages: list[dict],
    stage: str,
    png,
    pdf,
) -> None:
    """DeepSZ Fig. 12: detected fraction of test halos in bins of (z, M_vir) and (theta500, M_vir).

    Parameters
    ----------
    detections : path-like
        Per-halo detection table (rule ``halo_detections``).
    positive : dict
        Config ``cutouts.positive``: the training cuts (m_vir_min in M_sun, z_min).
    halo_bins : dict
        Config ``evaluation.halos``: m_vir_min (M_sun), min_per_bin and the wanted bin widths
        mass_bin_dex (dex of M_vir), redshift_bin and theta500_bin_dex (dex of theta500 in arcmin).
    stages : list of dict
        Config ``sky.stages``.
    stage : str
        Evaluation noise stage.
    png, pdf : path-like
        Output figure.
    """
    mass_bin_dex, redshift_bin = halo_bins["mass_bin_dex"], halo_bins["redshift_bin"]
    theta_bin_dex = halo_bins["theta500_bin_dex"]
    det = read_halo_detections(detections)
    pos = positive
    logm = np.log10(det["m_vir"].to_numpy())
    m_edges = _mass_edges(det, halo_bins["m_vir_min"], pos["m_vir_min"], mass_bin_dex)
    z = det["z"].to_numpy()
    logt = np.log10(det["theta500_arcmin"].to_numpy())
    props = [
        ("z", "Redshift z", z, anchored_edges(0.0, z.max() + 1e-9, redshift_bin, anchor=pos["z_min"]), False),
        (
            "theta500",
            r"$\theta_{500}$ [arcmin]",
            logt,
            anchored_edges(
                theta_bin_dex * np.floor(logt.min() / theta_bin_dex), logt.max() + 1e-9, theta_bin_dex
            ),
            True,
        ),
    ]
    rows = []
    for name, xlabel, x, x_edges, log_x in props:
        fraction = {}
        for m in GRID_METHODS:
            fraction[m], n = selection_grid(
                x, logm, det[f"detected_{m}"], x_edges, m_edges, halo_bins["min_per_bin"]
            )
        shown = n >= halo_bins["min_per_bin"]
        log.info(
            "(%s, M_vir): %d of %d bins shown, holding %d of %d halos",
            name,
            shown.sum(),
            n.size,
            n[shown].sum(),
            n.sum(),
        )
        rows.append(
            {
                "xlabel": xlabel,
                "x_edges": 10**x_edges if log_x else x_edges,
                "log_x": log_x,
                "y_edges": 10**m_edges,
                "fraction": fraction,
            }
        )
    plot_selection_function(
        rows,
        pos["m_vir_min"],
        halo_bins["min_per_bin"],
        _title(stages, stage, len(det), f"with {_mass_above(halo_bins['m_vir_min'])}"),
        png,
        pdf,
    )


def _log_curves(curves: pd.DataFrame, what: str) -> None:
    """Log the recall of each bin (first selection) for the record."""
    first = curves["selection"].iloc[0]
    c = curves[curves["selection"] == first]
    for m in MAIN + EXTRA:
        cm = c[c["method"] == m]
        log.info(
            "%s recall per %s bin: %s",
            m,
            what,
            "; ".join(
                f"[{lo:.3g}, {hi:.3g}) {k}/{n}"
                for lo, hi, k, n in cm[["lo", "hi", "k", "n"]].itertuples(index=False)
            ),
        )
