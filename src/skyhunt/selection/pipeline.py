"""One function per Snakemake rule of the injection-based selection function (issue 16).

``inject_mf`` (one job per batch): model clusters painted into copies of the evaluation stage's
observed maps (in a scratch directory beside the output; the originals are only read), the
matched filter run on them exactly as rule ``matched_filter`` runs it
(:func:`skyhunt.mf.pipeline.run_matched_filter`: tiles, point-source treatment, noise model,
depth normalisation), and each injection's best SNR within the match radius.
``selection_completeness``: the completeness grid at the MF's validation threshold, the same
grid from the sky's own halos and the chi^2 between the two. ``mass_limit``: M500c at the
completeness level at ``z_ref``, per matched-filter tile.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.evaluation.pipeline import read_thresholds
from skyhunt.mf.pipeline import filter_maps
from skyhunt.mf.tiles import inside_mask, make_layout
from skyhunt.selection import completeness as comp
from skyhunt.selection import masslimit
from skyhunt.selection.files import CompletenessGrid, read_completeness, write_completeness, write_mass_limit
from skyhunt.selection.inject import INJECTION_UNITS, draw_injections, injected_signal
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.selection")

#: Columns of a batch's injection table: the injections, and the MF's best SNR within the radius.
INJECTED_UNITS = {**INJECTION_UNITS, "snr": "SNR (largest MF candidate within the match radius; 0: none)"}

#: Methods with an injection completeness (the MF; see docs/design.md "Selection function").
METHODS = ("mf",)


def grid_edges(selection: dict) -> tuple[np.ndarray, np.ndarray]:
    """M500c (M_sun, log-spaced) and z bin edges of config ``selection``."""
    g = selection["grid"]
    m = np.logspace(np.log10(g["m500c_min"]), np.log10(g["m500c_max"]), g["m500c_bins"] + 1)
    return m, np.asarray(g["z_edges"], dtype=float)


def run_inject_mf(
    *,
    nside: int,
    footprint: dict,
    bands: list,
    point_sources: dict,
    mf: dict,
    components: list,
    stage: str,
    cosmology: dict,
    halo_model: dict,
    selection: dict,
    match_radius_arcmin: float,
    seed: int,
    batch: int | str,
    maps: list,
    spectrum,
    halos,
    injections,
    sources=None,
    scan_filter: dict | None = None,
    transfer=None,
    red_noise: dict | None = None,
    ivar: list = (),
    threads: int = 1,
) -> None:
    """Inject one batch of model clusters into the stage's maps, run the MF, match.

    Parameters
    ----------
    nside, footprint, bands, point_sources, mf, components, stage, scan_filter, transfer, red_noise, ivar
        As :func:`skyhunt.mf.pipeline.run_matched_filter` (the main run's matched filter of
        ``stage``).
    cosmology : dict
        Config ``sky.cosmology``.
    halo_model : dict
        Config ``sky.halos`` keys ``truncation_r500``, ``y_scatter_ln``, ``v_los_sigma_km_s``,
        ``relativistic_tsz``.
    selection : dict
        Config ``selection`` (``injections`` per batch, ``grid``, ``edge_arcmin``,
        ``avoid``, ``separation_arcmin``).
    match_radius_arcmin : float
        Config ``catalogues.match_radius_arcmin`` (1′).
    seed : int
        Run seed.
    batch : int or str
        Batch number (the ``{batch}`` wildcard; stream ``injection_<batch>``).
    maps : list of path-like
        The stage's observed maps (read only).
    spectrum, sources : path-like
        As for the matched filter.
    halos : path-like
        The sky's halos (the bright ones are avoided).
    injections : path-like
        Output Parquet table (:data:`INJECTED_UNITS`).
    threads : int
        Threads of the FFTs.
    """
    batch = int(batch)  # the {batch} wildcard
    fp = Footprint.from_config(footprint)
    sky_halos = read_halos(halos, ("ra", "dec", "m500c"))
    bright = sky_halos[sky_halos["m500c"] >= selection["avoid"]["m500c_min"]]
    m_edges, z_edges = grid_edges(selection)
    table = draw_injections(
        selection["injections"],
        batch,
        component_rng(seed, f"injection_{batch}"),
        fp,
        (m_edges[0], m_edges[-1]),
        (z_edges[0], z_edges[-1]),
        cosmology,
        halo_model,
        selection["edge_arcmin"],
        bright["ra"].to_numpy(),
        bright["dec"].to_numpy(),
        selection["avoid"]["radius_arcmin"],
        selection["separation_arcmin"],
    )
    pixels, values = io.read_partial_maps(maps, nside=nside)
    signal = injected_signal(
        table,
        nside,
        pixels,
        bands,
        components,
        halo_model["truncation_r500"],
        halo_model["relativistic_tsz"],
        scan_filter,
    )
    # the injected maps as the matched filter would read them back from FITS (float32)
    injected = (values + signal).astype(np.float32)
    cand, _ = filter_maps(
        pixels,
        injected,
        nside=nside,
        footprint=footprint,
        bands=bands,
        point_sources=point_sources,
        mf=mf,
        components=components,
        stage=stage,
        spectrum=spectrum,
        sources=sources,
        scan_filter=scan_filter,
        transfer=transfer,
        red_noise=red_noise,
        ivar=ivar,
        map_name=f"the injected maps of {maps[0]}",
        threads=threads,
    )
    table["snr"] = comp.best_score_within(
        table["ra"], table["dec"], cand["ra"], cand["dec"], cand["snr"], match_radius_arcmin
    )
    io.write_table(
        injections,
        {c: table[c].to_numpy() for c in INJECTED_UNITS},
        INJECTED_UNITS,
        meta={"batch": batch, "stage": stage, "selection": selection},
    )
    log.info(
        "batch %d: %d injections, %d with an MF candidate within %g arcmin",
        batch,
        len(table),
        int(np.sum(table["snr"] > 0)),
        match_radius_arcmin,
    )


def read_injections(paths) -> pd.DataFrame:
    """Every batch's injection table, concatenated in batch order."""
    return pd.concat([io.read_checked_table(p, tuple(INJECTED_UNITS)) for p in paths], ignore_index=True)


def mf_threshold(selection: dict, thresholds) -> float:
    """The MF's SNR threshold: ``selection.mf_snr_threshold``, or null: the validation threshold."""
    if selection["mf_snr_threshold"] is not None:
        return float(selection["mf_snr_threshold"])
    if thresholds is None:
        raise ValueError(
            "selection.mf_snr_threshold is null: the MF's validation threshold needs thresholds.json"
        )
    return float(read_thresholds(thresholds)["methods"]["mf"]["threshold"])


def run_selection_completeness(
    *,
    footprint: dict,
    selection: dict,
    match_radius_arcmin: float,
    interval: float,
    injections: list,
    halos,
    candidates,
    completeness,
    summary,
    thresholds=None,
) -> None:
    """Completeness of the MF on the (M500c, z) grid from the injections, and from the sky's halos.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    selection : dict
        Config ``selection`` (``grid``, ``edge_arcmin``, ``min_per_bin``, ``mass_sub_bins``,
        ``mf_snr_threshold``).
    match_radius_arcmin : float
        Config ``catalogues.match_radius_arcmin``.
    interval : float
        Central probability of the intervals (config ``catalogues.interval``).
    injections : list of path-like
        The batches' tables (:func:`run_inject_mf`).
    halos, candidates : path-like
        The sky's halos and the main run's MF candidates of the stage.
    completeness : path-like
        Output FITS (:func:`skyhunt.selection.files.write_completeness`).
    summary : path-like
        Output JSON: the threshold, counts, chi^2, dof and p-value, plain and with the injections
        weighted to the halos' mass distribution within each bin
        (:func:`skyhunt.selection.completeness.mass_weights`).
    thresholds : path-like, optional
        ``thresholds.json`` of the main run (the MF's validation threshold); only when
        ``selection.mf_snr_threshold`` is null.
    """
    fp = Footprint.from_config(footprint)
    m_edges, z_edges = grid_edges(selection)
    threshold = mf_threshold(selection, thresholds)
    inj = read_injections(injections)
    n_inj, k_inj = comp.bin_counts(inj["m500c"], inj["z"], inj["snr"] >= threshold, m_edges, z_edges)
    sky = read_halos(halos, ("ra", "dec", "z", "m500c", "in_footprint"))
    sky = sky[
        sky["in_footprint"].to_numpy() & inside_mask(fp, sky["ra"], sky["dec"], selection["edge_arcmin"])
    ]
    cand = io.read_checked_table(candidates, ("ra", "dec", "snr"))
    best = comp.best_score_within(
        sky["ra"], sky["dec"], cand["ra"], cand["dec"], cand["snr"], match_radius_arcmin
    )
    n_true, k_true = comp.bin_counts(sky["m500c"], sky["z"], best >= threshold, m_edges, z_edges)
    c_inj = comp.completeness_of(n_inj, k_inj, interval)
    c_true = comp.completeness_of(n_true, k_true, interval)
    test = comp.chi2_against_truth(n_inj, k_inj, n_true, k_true, selection["min_per_bin"])
    weights = comp.mass_weights(
        inj["m500c"], inj["z"], sky["m500c"], sky["z"], m_edges, z_edges, selection["mass_sub_bins"]
    )
    n_w, k_w = comp.weighted_counts(
        inj["m500c"], inj["z"], inj["snr"] >= threshold, weights, m_edges, z_edges
    )
    weighted = comp.chi2_against_truth(n_w, k_w, n_true, k_true, selection["min_per_bin"])
    header = {
        "THRESH": (threshold, "SNR threshold of the method"),
        "RADIUS": (match_radius_arcmin, "[arcmin] match radius of a recovery"),
        "INTERVL": (interval, "central probability of LOWER, UPPER (Jeffreys)"),
        "CHI2": (test["chi2"], "injection vs the sky's own halos, bins compared"),
        "DOF": (test["dof"], "bins compared (both counts >= MINBIN)"),
        "MINBIN": (selection["min_per_bin"], "least clusters per bin in the comparison"),
        "CHI2W": (weighted["chi2"], "CHI2, injections weighted to halo masses"),
        "DOFW": (weighted["dof"], "bins compared, weighted"),
        "NINJ": (len(inj), "injected clusters"),
    }
    grid = CompletenessGrid(
        m_edges,
        z_edges,
        {
            "mf": {
                "COMPLETENESS": c_inj["p"],
                "LOWER": c_inj["lower"],
                "UPPER": c_inj["upper"],
                "N_INJECTED": n_inj,
                "N_RECOVERED": k_inj,
                "TRUTH_COMPLETENESS": c_true["p"],
                "TRUTH_LOWER": c_true["lower"],
                "TRUTH_UPPER": c_true["upper"],
                "TRUTH_N": n_true,
                "TRUTH_K": k_true,
            }
        },
        {"mf": header},
    )
    write_completeness(completeness, grid)
    result = {
        "mf": {
            "threshold": threshold,
            "injections": int(len(inj)),
            "injections_in_grid": int(n_inj.sum()),
            "recovered": int(k_inj.sum()),
            "truth_halos": int(n_true.sum()),
            "truth_found": int(k_true.sum()),
            "chi2": test["chi2"],
            "dof": test["dof"],
            "p_value": test["p_value"] if test["dof"] else None,
            "chi2_mass_weighted": weighted["chi2"],
            "dof_mass_weighted": weighted["dof"],
            "p_value_mass_weighted": weighted["p_value"] if weighted["dof"] else None,
        }
    }
    with io.atomic_output(summary) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    log.info(
        "MF at SNR >= %.3g: %d of %d injections recovered; chi^2 = %.2f for %d bins (p = %.3g) "
        "against %d of the sky's halos; weighted to their masses chi^2 = %.2f for %d bins (p = %.3g)",
        threshold,
        k_inj.sum(),
        n_inj.sum(),
        test["chi2"],
        test["dof"],
        test["p_value"],
        n_true.sum(),
        weighted["chi2"],
        weighted["dof"],
        weighted["p_value"],
    )


def run_mass_limit(
    *,
    footprint: dict,
    tiles: dict,
    mass_limit_cfg: dict,
    completeness,
    injections: list,
    candidates,
    mass_limit,
) -> None:
    """M500c at the completeness level at ``z``, footprint-wide and per matched-filter tile.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    tiles : dict
        Config ``mf.tiles`` (the search's tile layout).
    mass_limit_cfg : dict
        Config ``selection.mass_limit`` (``z``, ``level``).
    completeness : path-like
        The completeness grid (:func:`run_selection_completeness`).
    injections : list of path-like
        The batches' tables (the SNR–mass slope).
    candidates : path-like
        The main run's MF candidates of the stage (each tile's noise, y0_fixed / snr_fixed).
    mass_limit : path-like
        Output FITS table (:data:`skyhunt.selection.files.MASS_LIMIT_UNITS`).
    """
    fp = Footprint.from_config(footprint)
    grid = read_completeness(completeness)
    threshold = float(grid.headers["mf"]["THRESH"][0])
    z_ref, level = float(mass_limit_cfg["z"]), float(mass_limit_cfg["level"])
    row = masslimit.z_row(grid.z_edges, z_ref)
    m_lim = masslimit.mass_at_level(grid.m500c_edges, grid.methods["mf"]["COMPLETENESS"][row], level)
    inj = read_injections(injections)
    found = (inj["snr"] >= threshold).to_numpy()
    slope = float("nan")
    if np.isfinite(m_lim) and found.sum() >= 3:
        slope = masslimit.snr_slope(inj["m500c"][found], inj["snr"][found])
    else:
        log.warning(
            "no mass limit: the completeness at z = %g never reaches %g, or fewer than 3 injections "
            "were recovered (%d); the table holds NaN",
            z_ref,
            level,
            found.sum(),
        )
    layout = make_layout(fp, tiles["core_deg"], tiles["overlap_deg"], tiles["pixel_arcmin"])
    cand = io.read_checked_table(candidates, ("ra", "dec", "y0_fixed", "snr_fixed"))
    good = (cand["snr_fixed"] > 0).to_numpy()
    sigma = (cand["y0_fixed"] / cand["snr_fixed"]).to_numpy()[good]
    ctile = layout.core_index(cand["ra"].to_numpy()[good], cand["dec"].to_numpy()[good])
    index = np.array([t.index for t in layout.tiles])
    sigma_tile = masslimit.tile_noise(index, ctile, sigma)
    sigma_ref = float(
        np.nanmedian(sigma_tile[layout.core_index(inj["ra"].to_numpy(), inj["dec"].to_numpy())])
    )
    limits = (
        masslimit.tile_limits(m_lim, sigma_tile, sigma_ref, slope)
        if np.isfinite(slope)
        else np.full(len(layout.tiles), np.nan)
    )
    t = layout.tiles
    columns = {
        "tile": index,
        "ra0": np.array([x.ra0 for x in t]),
        "dec0": np.array([x.dec0 for x in t]),
        "ra_lo": np.array([x.ra_lo for x in t]),
        "ra_hi": np.array([x.ra_hi for x in t]),
        "dec_lo": np.array([x.dec_lo for x in t]),
        "dec_hi": np.array([x.dec_hi for x in t]),
        "sigma_y0": sigma_tile,
        "m500c_limit": limits,
    }
    header = {
        "ZREF": (z_ref, "redshift of the mass limit"),
        "LEVEL": (level, "completeness level of the mass limit"),
        "THRESH": (threshold, "MF SNR threshold"),
    }
    if np.isfinite(slope):  # FITS headers hold no NaN: the cards are left out
        header["MLIM"] = (m_lim, "[solMass] footprint-wide M500c at LEVEL at ZREF")
        header["SLOPE"] = (slope, "d ln SNR / d ln M500c of recovered injections")
        header["SIGREF"] = (sigma_ref, "median fixed-filter y0 noise at the injections")
    write_mass_limit(mass_limit, columns, header)
    log.info(
        "M500c at %.0f %% completeness at z = %g: %.3g M_sun (footprint); tiles %.3g to %.3g; slope %.2f",
        100 * level,
        z_ref,
        m_lim,
        np.nanmin(limits) if np.isfinite(limits).any() else np.nan,
        np.nanmax(limits) if np.isfinite(limits).any() else np.nan,
        slope,
    )
