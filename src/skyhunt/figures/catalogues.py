"""Figures of the catalogues: completeness against purity of every catalogue, and the catalogues on the map.

Computation in :mod:`skyhunt.catalogues`; this module reads the rules' inputs and draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.catalogues.files import CATALOGUE_NAMES, CATALOGUES, read_catalogue
from skyhunt.catalogues.metrics import true_entries
from skyhunt.catalogues.pipeline import CURVE_UNITS, HALO_COLUMNS, qualifying_halos, read_metrics
from skyhunt.figures.style import method_colour, new_figure, save_figure, stage_label
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_halos

#: Colour key (:data:`skyhunt.figures.style.COLOURS`) of each catalogue.
COLOUR_OF = {
    "mf": "mf",
    "detector": "detector",
    "ens_prod": "prod",
    "ens_learned": "learned",
    "vetted_cnn": "vetted_cnn",
    "vetted_classical": "vetted_classical",
}
#: Short catalogue names for the map's panel titles.
MAP_NAMES = {"mf": "MF", "detector": "detector", "ens_prod": "EnsemblePROD", "ens_learned": "learned ens."}
#: Marker of each purity level's point, by its place in ``catalogues.purity_levels``.
LEVEL_MARKERS = ("o", "s", "^", "D")
#: Purity panels: curve column and axis label.
PURITY_PANELS = (
    ("purity_qualifying", "qualifying", "purity (qualifying halos)"),
    ("purity_mass", "mass", "purity (halos with M500c ≥ {mass:.3g} M$_\\odot$)"),
)


def point_at(curve: pd.DataFrame, threshold: float) -> pd.Series | None:
    """The test-curve row of the lowest curve threshold >= ``threshold`` (None if there is none)."""
    above = curve[curve["threshold"] >= threshold]
    return None if above.empty else above.iloc[0]


def plot_completeness_purity(curves: pd.DataFrame, metrics: dict, classifier: dict | None, title, png, pdf):
    """Completeness against both purities on the test stripe, one curve per catalogue.

    Parameters
    ----------
    curves : DataFrame
        Completeness-purity curves (:data:`skyhunt.catalogues.pipeline.CURVE_UNITS`).
    metrics : dict
        The metrics JSON (thresholds of each purity level, set on validation).
    classifier : dict or None
        The CNN classifier's test precision and recall at the cutout level (Table 1), drawn as one
        point in the qualifying panel.
    title : str
    png, pdf : path-like
    """
    fig, axes = new_figure(1, 2, height=3.6, sharey=True)
    for ax, (column, kind, label) in zip(axes, PURITY_PANELS, strict=True):
        for m in metrics["methods"]:
            test = curves[(curves["method"] == m) & (curves["split"] == "test")].sort_values("threshold")
            colour = method_colour(COLOUR_OF[m])
            ax.plot(test[column], test["completeness"], color=colour, lw=1.4, label=CATALOGUE_NAMES[m])
            levels = metrics["methods"][m]["n_at_purity"][kind]
            for k, res in enumerate(levels.values()):
                row = None if res["threshold"] is None else point_at(test, res["threshold"])
                if row is not None:
                    ax.plot(
                        row[column],
                        row["completeness"],
                        LEVEL_MARKERS[k % 4],
                        color=colour,
                        ms=5,
                        mfc="white",
                    )
        for k, level in enumerate(next(iter(metrics["methods"].values()))["n_at_purity"][kind]):
            ax.axvline(float(level), color="0.6", lw=0.8, ls=":")
            ax.plot(
                [],
                [],
                LEVEL_MARKERS[k % 4],
                color="0.3",
                mfc="white",
                label=f"threshold of {float(level):.0%} (val.)",
            )
        if classifier is not None and kind == "qualifying":
            ax.plot(
                classifier["precision"],
                classifier["recall"],
                "*",
                color=method_colour("cnn"),
                ms=10,
                label="CNN classifier (cutouts, Table 1)",
            )
        ax.set_xlabel(label.format(mass=metrics["purity_m500c_min"]))
        ax.set_xlim(0.0, 1.02)
        ax.set_ylim(0.0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"completeness ({metrics['n_qualifying_test']} qualifying test halos)")
    axes[0].set_title("(a) against qualifying halos")
    axes[1].set_title("(b) against the purity mass")
    axes[0].legend(loc="lower left", frameon=True, framealpha=0.9, fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, png, pdf)


def read_classifier_point(path) -> dict:
    """The CNN classifier's test precision and recall from Table 1 (CSV); fail naming the file."""
    table = io.read_checked_csv(path, ("method", "precision", "recall"), "Table 1")
    row = table[table["method"] == "cnn"]
    if row.empty:
        raise io.InputFileError(f"{path}: Table 1 has no cnn row")
    return {"precision": float(row["precision"].iloc[0]), "recall": float(row["recall"].iloc[0])}


def run_completeness_purity(*, stages: list, stage: str, metrics, curves, table1, png, pdf) -> None:
    """The ``completeness_purity`` rule: completeness against purity of every catalogue (test stripe).

    Parameters
    ----------
    stages : list
        Config ``sky.stages`` (the stage's label).
    stage : str
        The evaluation stage.
    metrics, curves : path-like
        Outputs of :func:`skyhunt.catalogues.pipeline.run_catalogue_metrics`.
    table1 : path-like
        Table 1 (CSV): the classifier's cutout-level point.
    png, pdf : path-like
        Outputs.
    """
    m = read_metrics(metrics)
    table = io.read_checked_table(curves, CURVE_UNITS)
    title = (
        f"Catalogues on the test stripe ({stage_label(stages, stage)}), {m['match_radius_arcmin']:g}' match; "
        "markers: thresholds set on validation"
    )
    plot_completeness_purity(table, m, read_classifier_point(table1), title, png, pdf)


def plot_catalogue_map(entries: dict, thresholds: dict, qualifying, box, stripes, radius, title, png, pdf):
    """Each catalogue's entries at or above its threshold over the footprint.

    Parameters
    ----------
    entries : dict
        Catalogue name -> catalogue (DataFrame).
    thresholds : dict
        Catalogue name -> its threshold (e.g. of a purity level, set on validation).
    qualifying : DataFrame
        Qualifying in-footprint halos (ra, dec).
    box : Footprint
    stripes : tuple of float
        RA of the test / validation and validation / train stripe edges, deg.
    radius : float
        Match radius, arcmin (true entries: a qualifying halo within it).
    title : str
    png, pdf : path-like
    """
    aspect = (box.dec_max - box.dec_min) / (box.ra_max - box.ra_min)
    shape = (2, 2) if aspect >= 0.4 else (4, 1)  # a narrow footprint: one panel per row
    height = shape[0] * (7.0 / shape[1]) * aspect + 1.4
    fig, axes = new_figure(*shape, height=height, sharex=True, sharey=True, squeeze=False)
    for ax, m in zip(axes.ravel(), CATALOGUES, strict=True):
        e = entries[m]
        e = e[e["score"].to_numpy() >= thresholds[m]]
        true = true_entries(e["ra"], e["dec"], qualifying["ra"], qualifying["dec"], radius)
        ax.axvspan(box.ra_min, stripes[0], color="tab:blue", alpha=0.12, lw=0)
        ax.axvspan(stripes[0], stripes[1], color="tab:green", alpha=0.10, lw=0)
        ax.scatter(qualifying["ra"], qualifying["dec"], s=9, facecolors="none", edgecolors="0.55", lw=0.5)
        ax.scatter(e["ra"][true], e["dec"][true], s=3, color=method_colour(COLOUR_OF[m]), lw=0)
        ax.scatter(e["ra"][~true], e["dec"][~true], s=8, marker="x", color="tab:red", lw=0.6)
        ax.set_title(f"{MAP_NAMES[m]}: {len(e)} ≥ {thresholds[m]:.3g}, {np.sum(~true)} false", fontsize=8)
        ax.set_xlim(box.ra_max, box.ra_min)  # east to the left
        ax.set_ylim(box.dec_min, box.dec_max)
        ax.set_aspect("equal")
        top = box.dec_max - 0.02 * (box.dec_max - box.dec_min)
        ax.text(
            0.5 * (box.ra_min + stripes[0]), top, "test", ha="center", va="top", fontsize=7, color="tab:blue"
        )
    for ax in axes[-1]:
        ax.set_xlabel("RA (deg)")
    for ax in axes[:, 0]:
        ax.set_ylabel("Dec (deg)")
    fig.suptitle(title, fontsize=9)
    save_figure(fig, png, pdf)


def run_catalogue_map(
    *,
    footprint: dict,
    splits: dict,
    positive: dict,
    stages: list,
    stage: str,
    metrics,
    mf,
    detector,
    ens_prod,
    ens_learned,
    halos,
    png,
    pdf,
) -> None:
    """The ``catalogue_map`` rule: the catalogues over the map at the lowest purity level's thresholds.

    Parameters
    ----------
    footprint, splits : dict
        Config ``sky.footprint`` (deg) and ``cutouts.splits`` (the stripes drawn).
    positive : dict
        Config ``cutouts.positive`` (the qualifying halos drawn).
    stages : list
        Config ``sky.stages``.
    stage : str
        The evaluation stage.
    metrics : path-like
        The metrics JSON (validation thresholds).
    mf, detector, ens_prod, ens_learned : path-like
        The catalogues (Parquet).
    halos : path-like
        Halo table.
    png, pdf : path-like
        Outputs.
    """
    m = read_metrics(metrics)
    paths = dict(zip(CATALOGUES, (mf, detector, ens_prod, ens_learned), strict=True))
    entries = {k: read_catalogue(p, k) for k, p in paths.items()}
    levels = m["methods"]["mf"]["n_at_purity"]["qualifying"]
    level = min(levels, key=float)
    thresholds = {k: m["methods"][k]["n_at_purity"]["qualifying"][level]["threshold"] for k in CATALOGUES}
    thresholds = {k: np.inf if t is None else t for k, t in thresholds.items()}
    box = Footprint.from_config(footprint)
    width = box.ra_max - box.ra_min
    stripes = (box.ra_min + splits["test_max"] * width, box.ra_min + splits["validation_max"] * width)
    q = qualifying_halos(read_halos(halos, HALO_COLUMNS), positive)
    q = q[q["in_footprint"].to_numpy(bool)]
    title = (
        f"Catalogues ({stage_label(stages, stage)}) at their {float(level):.0%}-purity validation "
        "thresholds; circles: qualifying halos; ×: false entries;\n"
        "shaded: test (blue) and validation (green) stripes"
    )
    plot_catalogue_map(entries, thresholds, q, box, stripes, m["match_radius_arcmin"], title, png, pdf)
