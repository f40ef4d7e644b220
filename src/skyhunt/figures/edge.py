"""Figure ``edge_effect``: the CNN's score against the cluster's place in the cutout (DeepSZ Fig. 9c).

Computation in :mod:`skyhunt.evaluation.edge` and, for the completeness of the classifier and the
CNN detector against the distance from the nearest grid-cutout centre (panel c), in
:mod:`skyhunt.catalogues.edge`; this module reads the rule's inputs (the re-cut scores, the remedy
table of rule ``edge_effect_table``, the CNN threshold and the table of rule ``detector_edge``)
and draws the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from skyhunt.catalogues.edge import read_edge_table
from skyhunt.evaluation.edge import (
    offset_map,
    offset_profile,
    read_cnn_threshold,
    read_recut_scores,
    read_remedy_table,
)
from skyhunt.figures.style import method_colour, new_figure, save_figure, stage_label

#: Side of the (dx, dy) bins of the right panel, arcmin.
MAP_BIN_ARCMIN = 0.5


def plot_edge_effect(
    profile: pd.DataFrame,
    edges: np.ndarray,
    mean_map: np.ndarray,
    remedy: pd.DataFrame,
    threshold: float,
    central_arcmin: float,
    size_arcmin: float,
    title: str,
    png_path,
    pdf_path,
    detector_edge: pd.DataFrame,
    detector_label: str,
) -> None:
    """Draw the edge-effect figure.

    Parameters
    ----------
    profile : pandas.DataFrame
        From :func:`skyhunt.evaluation.edge.offset_profile`.
    edges, mean_map
        From :func:`skyhunt.evaluation.edge.offset_map` (arcmin; mean probability [dy, dx]).
    remedy : pandas.DataFrame
        From :func:`skyhunt.evaluation.edge.remedy_table` (rows ``standard`` and ``dense``).
    threshold : float
        The CNN's validation threshold (probability).
    central_arcmin, size_arcmin : float
        Side of the central square and of the cutout, arcmin.
    title : str
        Figure title (stage and sample).
    png_path, pdf_path : path-like
    detector_edge : pandas.DataFrame
        From :func:`skyhunt.catalogues.edge.edge_table`: completeness of the classifier and the
        detector against the distance from the nearest grid-cutout centre.
    detector_label : str
        The detector's threshold in words, for the legend.
    """
    fig, axes = new_figure(2, 2, height=6.6, gridspec_kw={"width_ratios": [1.35, 1]})
    (ax, axm), bottom = axes[0], axes[1]
    for a in bottom:
        a.remove()
    axc = fig.add_subplot(2, 1, 2)
    fig.subplots_adjust(hspace=0.45)
    half, edge = central_arcmin / 2.0, size_arcmin / 2.0
    x = profile["offset_arcmin"].to_numpy()
    colour = method_colour("cnn")
    square = f"edge of central {central_arcmin:g}'×{central_arcmin:g}'"
    ax.axvspan(half, half * np.sqrt(2.0), color="tab:red", alpha=0.15, lw=0, label=square)
    ax.axvline(edge, color="0.4", lw=1.0, ls="--", label="cutout edge (on axis)")
    ax.fill_between(x, profile["p10"], profile["p90"], color="0.6", alpha=0.35, lw=0, label="10th-90th pct.")
    ax.plot(x, profile["median"], color=colour, lw=1.8, label="median")
    ax.plot(x, profile["mean"], color=colour, lw=1.2, ls="--", label="mean")
    ax.axhline(threshold, color="tab:blue", lw=1.2, ls=":", label=f"threshold {threshold:.2f}")
    ax.set_xlim(0.0, x.max())
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("distance of the cluster from the cutout centre (arcmin)")
    ax.set_ylabel("CNN probability (mean over angles)")
    ax.set_title("(a) probability against distance")
    ax.legend(loc="upper right", frameon=True, framealpha=0.9)

    mesh = axm.pcolormesh(edges, edges, mean_map, cmap="viridis", vmin=0.0, vmax=1.0, shading="flat")
    for side, style in ((central_arcmin, "-"), (size_arcmin, "--")):
        axm.add_patch(Rectangle((-side / 2, -side / 2), side, side, fill=False, ec="white", lw=1.0, ls=style))
    axm.set_xlim(edges[-1], edges[0])  # east to the left, as the cutouts are shown
    axm.set_ylim(edges[0], edges[-1])
    axm.set_aspect("equal")
    axm.set_xlabel("cluster east of centre (arcmin)")
    axm.set_ylabel("cluster north of centre (arcmin)")
    cbar = fig.colorbar(mesh, ax=axm, fraction=0.046, pad=0.03)
    cbar.set_label("mean CNN probability")
    axm.set_title("(b) probability against position")
    _completeness_panel(axc, detector_edge, threshold, detector_label, half)
    fig.suptitle(title, fontsize=9)
    fig.text(0.5, -0.02, _remedy_text(remedy), ha="center", va="top", fontsize=8)
    save_figure(fig, png_path, pdf_path)


def _completeness_panel(ax, table: pd.DataFrame, threshold: float, detector_label: str, half: float) -> None:
    """Panel (c): completeness of the classifier and the detector against the distance from the centre."""
    mid = 0.5 * (table["distance_lo_arcmin"] + table["distance_hi_arcmin"]).to_numpy()
    for k, (name, label) in enumerate(
        (("classifier", f"CNN classifier (cutout p ≥ {threshold:.2f})"), ("detector", detector_label))
    ):
        c = table[f"{name}_completeness"].to_numpy()
        err = np.vstack([c - table[f"{name}_lo"].to_numpy(), table[f"{name}_hi"].to_numpy() - c])
        colour = method_colour("cnn" if name == "classifier" else "detector")
        ax.errorbar(
            mid + (k - 0.5) * 0.06,
            c,
            yerr=err,
            color=colour,
            marker="o",
            ms=3.5,
            lw=1.4,
            capsize=2,
            label=label,
        )
    ax.axvspan(half, half * np.sqrt(2.0), color="tab:red", alpha=0.15, lw=0)
    ax.set_xlim(0.0, table["distance_hi_arcmin"].max())
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("distance of the cluster from the nearest grid-cutout centre (arcmin)")
    ax.set_ylabel("completeness (qualifying clusters)")
    n = int(table["n_halos"].sum())
    ax.set_title(
        f"(c) completeness against distance, {n} validation + test clusters (68 % Jeffreys intervals)"
    )
    ax.legend(loc="lower left", frameon=True, framealpha=0.9)


def _remedy_text(remedy: pd.DataFrame) -> str:
    """One line of remedy numbers: clusters found and false candidates per deg² of each grid."""
    parts = [
        f"{r['grid']} {r['stride_arcmin']:g}' grid: {r['halos_found']}/{r['halos']} clusters found, "
        f"{r['false_per_deg2']:.2f} false/deg²"
        for _, r in remedy.iterrows()
    ]
    return f"Quarter-overlap remedy (test split, p ≥ {remedy['threshold'].iloc[0]:.2f}):\n" + ";  ".join(
        parts
    )


def run_edge_effect(
    *,
    cutouts: dict,
    edge: dict,
    stages: list,
    stage: str,
    recut,
    remedy,
    thresholds,
    detector_edge,
    png,
    pdf,
) -> None:
    """The ``edge_effect`` rule: the offset profile and map of the re-cut scores, and the figure.

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` keys ``size_arcmin`` and ``central_arcmin`` (arcmin).
    edge : dict
        Config ``evaluation.edge_effect`` keys ``max_offset_arcmin`` (arcmin) and ``angles``.
    stages : list
        Config ``sky.stages`` (for the stage's label).
    stage : str
        The evaluation stage.
    recut : path-like
        Re-cut scores of :func:`skyhunt.evaluation.edge_scores.run_edge_effect_scores`.
    remedy : path-like
        Remedy table (CSV) of :func:`skyhunt.evaluation.edge.run_edge_effect_table`.
    thresholds : path-like
        ``results/ensembles/thresholds.json`` (the CNN's validation threshold).
    detector_edge : path-like
        Completeness against the distance from the nearest cutout centre
        (:func:`skyhunt.catalogues.pipeline.run_detector_edge`).
    png, pdf : path-like
        Outputs.
    """
    threshold = read_cnn_threshold(thresholds, stage)
    remedy = read_remedy_table(remedy)
    recut = read_recut_scores(recut)
    edge_table, edge_meta = read_edge_table(detector_edge)
    purity, t = edge_meta["detector_purity"], edge_meta["detector_threshold"]
    detector_label = (
        f"CNN detector (validation purity never reaches {purity:.0%})"
        if t is None
        else f"CNN detector (entries ≥ {t:.2f}, {purity:.0%} validation purity)"
    )

    profile = offset_profile(recut)
    edges, mean_map = offset_map(recut, edge["max_offset_arcmin"], MAP_BIN_ARCMIN)
    n_halos = recut["halo_id"].nunique()
    title = (
        f"CNN edge effect ({stage_label(stages, stage)}): {n_halos} validation + test clusters re-cut, "
        f"{edge['angles']} angles per offset"
    )
    plot_edge_effect(
        profile,
        edges,
        mean_map,
        remedy,
        threshold,
        cutouts["central_arcmin"],
        cutouts["size_arcmin"],
        title,
        png,
        pdf,
        edge_table,
        detector_label,
    )
