"""The selection-function figures (issue 16): injection completeness against truth, the mass-limit map."""

from __future__ import annotations

import json

import matplotlib.cm as cm
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter

from skyhunt.figures.style import method_colour, new_figure, save_figure
from skyhunt.selection.files import read_completeness, read_mass_limit


def run_injection_completeness(*, completeness, summary, png, pdf) -> None:
    """MF completeness against M500c, one panel per redshift bin: injections and the sky's halos.

    Parameters
    ----------
    completeness : path-like
        The completeness grid (rule ``selection_completeness``).
    summary : path-like
        Its summary (threshold, chi^2).
    png, pdf : path-like
        Output figure.
    """
    grid = read_completeness(completeness)
    with open(summary, encoding="utf-8") as f:
        stats = json.load(f)["mf"]
    q = grid.methods["mf"]
    m = grid.m500c_edges
    centre = np.sqrt(m[:-1] * m[1:])
    nz = grid.z_edges.size - 1
    ncols = min(nz, 3)
    nrows = -(-nz // ncols)
    fig, axes = new_figure(nrows, ncols, height=2.4 * nrows, sharex=True, sharey=True, squeeze=False)
    for row in range(nz):
        ax = axes.flat[row]
        for kind, colour, shift, marker, label in (
            ("", method_colour("mf"), 0.97, "o", "injections"),
            ("TRUTH_", "0.4", 1.03, "s", "sky's halos"),
        ):
            p = q[f"{kind}COMPLETENESS"][row]
            lo, hi = q[f"{kind}LOWER"][row], q[f"{kind}UPPER"][row]
            ok = np.isfinite(p)
            ax.errorbar(
                centre[ok] * shift,
                p[ok],
                yerr=[p[ok] - lo[ok], hi[ok] - p[ok]],
                fmt=marker,
                color=colour,
                ms=3.5,
                capsize=2,
                label=label,
            )
        ax.axhline(0.9, color="0.6", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(m[0], m[-1])
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{grid.z_edges[row]:g} ≤ z < {grid.z_edges[row + 1]:g}")
    for ax in axes.flat[nz:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(r"$M_{500c}$ [$M_\odot$]")
    for ax in axes[:, 0]:
        ax.set_ylabel("completeness")
    axes.flat[0].legend(loc="upper left", frameon=False)
    fig.suptitle(
        f"MF at SNR ≥ {stats['threshold']:.3g}: {stats['injections']} injections; "
        f"χ² = {stats['chi2']:.1f} for {stats['dof']} bins against the sky's halos",
        fontsize=9,
    )
    save_figure(fig, png, pdf)


def run_mass_limit_map(*, footprint: dict, mass_limit, png, pdf) -> None:
    """M500c at the completeness level at z_ref, per matched-filter tile core, over the footprint.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    mass_limit : path-like
        The mass-limit table (rule ``mass_limit``).
    png, pdf : path-like
        Output figure.
    """
    table, header = read_mass_limit(mass_limit)
    limit = np.asarray(table["m500c_limit"], dtype=float) / 1e14
    fig, ax = new_figure(height=4.0)
    finite = limit[np.isfinite(limit)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if vmax - vmin < 1e-3 * max(vmax, 1.0):
        vmin, vmax = vmin * 0.98, vmax * 1.02 + 1e-6
    norm = Normalize(vmin, vmax)
    cmap = cm.viridis
    for row, value in zip(table, limit, strict=True):
        colour = cmap(norm(value)) if np.isfinite(value) else "0.85"
        ax.add_patch(
            Rectangle(
                (row["ra_lo"], row["dec_lo"]),
                row["ra_hi"] - row["ra_lo"],
                row["dec_hi"] - row["dec_lo"],
                facecolor=colour,
                edgecolor="white",
            )
        )
        if np.isfinite(value):
            ax.text(
                0.5 * (row["ra_lo"] + row["ra_hi"]),
                0.5 * (row["dec_lo"] + row["dec_hi"]),
                f"{value:.2f}",
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
    bar.set_label(rf"$M_{{500c}}$ at {100 * header['LEVEL']:.0f} % completeness [$10^{{14}} M_\odot$]")
    footprint_limit = f"{header['MLIM'] / 1e14:.2f}e14 M$_\\odot$" if "MLIM" in header else "not reached"
    ax.set_title(f"MF mass limit at z = {header['ZREF']:g} (footprint: {footprint_limit}; ACT DR5: 3.8e14)")
    save_figure(fig, png, pdf)
