"""The selection-function figures (issue 16): each method's injection completeness, the mass-limit map."""

from __future__ import annotations

import json

import matplotlib.cm as cm
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter

from skyhunt import io
from skyhunt.catalogues.files import CATALOGUE_NAMES
from skyhunt.evaluation.ensembles import METHOD_NAMES
from skyhunt.figures.style import method_colour, new_figure, save_figure
from skyhunt.selection.files import read_completeness, read_mass_limit
from skyhunt.selection.methods import CATALOGUE_METHODS, CUTOUT_METHODS

#: Colour of each method of the selection function (the catalogue and Table 1 figures' colours).
SELECTION_COLOURS = {
    "mf": "mf",
    "detector": "detector",
    "ens_prod": "prod",
    "ens_learned": "learned",
    **CUTOUT_METHODS,
}
#: Name of each method of the selection function in the figures.
SELECTION_NAMES = {
    **CATALOGUE_NAMES,
    **{m: f"{METHOD_NAMES[key]} (cutouts)" for m, key in CUTOUT_METHODS.items()},
}
#: The figure's columns: the catalogue finders, and Table 1's cutout classifiers.
GROUPS = (("catalogues", CATALOGUE_METHODS), ("cutouts (validation and test stripes)", tuple(CUTOUT_METHODS)))


def run_injection_completeness(*, completeness, summary, png, pdf) -> None:
    """Completeness against M500c, a row per redshift bin, the catalogue finders on the left and
    the cutout classifiers on the right: injections and the sky's own halos.

    Parameters
    ----------
    completeness : path-like
        The completeness grids (rule ``selection_completeness``).
    summary : path-like
        Its summary (thresholds, chi^2).
    png, pdf : path-like
        Output figure.
    """
    grid = read_completeness(completeness)
    with open(summary, encoding="utf-8") as f:
        stats = json.load(f)
    m = grid.m500c_edges
    centre = np.sqrt(m[:-1] * m[1:])
    nz = grid.z_edges.size - 1
    height = 1.9 * nz + 1.6  # inches: the suptitle, the panels, the axis labels and the legends
    fig, axes = new_figure(nz, 2, height=height, sharex=True, sharey=True, squeeze=False)
    for col, (title, methods) in enumerate(GROUPS):
        for row in range(nz):
            ax = axes[row, col]
            for k, method in enumerate(methods):
                q = grid.methods[method]
                colour = method_colour(SELECTION_COLOURS[method])
                s_ = stats[method]
                t = "never" if s_["threshold"] is None else f"≥ {s_['threshold']:.3g}"
                label = f"{SELECTION_NAMES[method]} ({t}; χ² {s_['chi2']:.1f}/{s_['dof']})"
                shift = 10 ** (0.015 * (k - 1.5))
                for kind, fill, ls in (("", colour, "-"), ("TRUTH_", "none", ":")):
                    p = q[f"{kind}COMPLETENESS"][row]
                    lo, hi = q[f"{kind}LOWER"][row], q[f"{kind}UPPER"][row]
                    ok = np.isfinite(p)
                    ax.errorbar(
                        centre[ok] * shift,
                        p[ok],
                        yerr=[p[ok] - lo[ok], hi[ok] - p[ok]],
                        fmt="o" if kind == "" else "s",
                        ls=ls,
                        lw=0.8,
                        color=colour,
                        mfc=fill,
                        ms=3.0,
                        capsize=2,
                        label=label if kind == "" else None,
                    )
            ax.axhline(0.9, color="0.6", ls=":", lw=0.8)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(m[0], m[-1])
            ax.set_ylim(-0.03, 1.03)
            ax.text(
                0.03,
                0.92,
                f"{grid.z_edges[row]:g} ≤ z < {grid.z_edges[row + 1]:g}",
                transform=ax.transAxes,
                fontsize=7,
                va="top",
            )
        n_inj = stats[methods[0]]["injections"]
        axes[0, col].set_title(f"{title}: {n_inj} injections", fontsize=8)
        handles, labels = axes[0, col].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0.06 + 0.47 * col, 0.0),
            ncol=1,
            frameon=False,
            fontsize=6,
        )
    for ax in axes[-1]:
        ax.set_xlabel(r"$M_{500c}$ [$M_\odot$]")
    for ax in axes[:, 0]:
        ax.set_ylabel("completeness")
    fig.suptitle(
        "injections (filled, solid); the sky's own halos (open, dotted); "
        "each method at its validation threshold",
        fontsize=8,
    )
    fig.subplots_adjust(top=1.0 - 0.7 / height, bottom=1.3 / height, hspace=0.12)
    save_figure(fig, png, pdf)


def run_mass_limit_map(*, footprint: dict, mass_limit, mass_limit_map, png, pdf) -> None:
    """The HEALPix map of the MF's M500c limit at z_ref over the footprint, and every method's limit.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    mass_limit, mass_limit_map : path-like
        The mass-limit tables and the HEALPix map (rule ``mass_limit``).
    png, pdf : path-like
        Output figure.
    """
    import healpy as hp

    table, header, methods = read_mass_limit(mass_limit)
    try:
        values = hp.read_map(mass_limit_map, dtype=np.float64)
    except (OSError, ValueError) as err:
        raise io.InputFileError(f"mass-limit map {mass_limit_map} cannot be read: {err}") from err
    nside = hp.get_nside(values)
    ra = np.linspace(footprint["ra_min"], footprint["ra_max"], 600)
    dec = np.linspace(footprint["dec_min"], footprint["dec_max"], 500)
    image = values[hp.ang2pix(nside, *np.meshgrid(ra, dec), lonlat=True)]
    image = np.where(image == hp.UNSEEN, np.nan, image) / 1e14
    fig, ax = new_figure(height=4.0)
    finite = image[np.isfinite(image)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if vmax - vmin < 1e-3 * max(vmax, 1.0):
        vmin, vmax = vmin * 0.98, vmax * 1.02 + 1e-6
    norm = Normalize(vmin, vmax)
    cmap = cm.viridis.copy()
    cmap.set_bad("0.85")
    ax.pcolormesh(ra, dec, image, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
    for row in table:
        ax.add_patch(
            Rectangle(
                (row["ra_lo"], row["dec_lo"]),
                row["ra_hi"] - row["ra_lo"],
                row["dec_hi"] - row["dec_lo"],
                facecolor="none",
                edgecolor="white",
                lw=0.6,
            )
        )
        if np.isfinite(row["m500c_limit"]):
            ax.text(
                0.5 * (row["ra_lo"] + row["ra_hi"]),
                0.5 * (row["dec_lo"] + row["dec_hi"]),
                f"{row['m500c_limit'] / 1e14:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )
    ax.set_xlim(footprint["ra_max"], footprint["ra_min"])  # RA increases to the east (left)
    ax.set_ylim(footprint["dec_min"], footprint["dec_max"])
    ax.set_aspect(1.0 / np.cos(np.radians(0.5 * (footprint["dec_min"] + footprint["dec_max"]))))
    ax.set_xlabel("RA [deg]")
    ax.set_ylabel("Dec [deg]")
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    bar.set_label(rf"MF $M_{{500c}}$ at {100 * header['LEVEL']:.0f} % completeness [$10^{{14}} M_\odot$]")
    limits = "; ".join(
        f"{SELECTION_NAMES[m]} " + (f"{v / 1e14:.2f}e14" if np.isfinite(v) else "not reached")
        for m, v in zip(methods["method"], np.asarray(methods["m500c_limit"], float), strict=True)
    )
    ax.set_title(
        f"Mass limit at z = {header['ZREF']:g} (HEALPix nside {nside}), footprint-wide in M$_\\odot$:\n"
        f"{limits}; ACT DR5: 3.8e14 (S/N > 5)",
        fontsize=8,
    )
    save_figure(fig, png, pdf)
