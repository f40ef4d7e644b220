"""One function per Snakemake rule of the masses stage (issue 16; beyond DeepSZ)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cutouts.layout import split_of
from skyhunt.masses.eddington import posterior_masses
from skyhunt.masses.metrics import bias_scatter, binned
from skyhunt.masses.readers import read_fixed_candidates, read_masses
from skyhunt.masses.ym import QFunction, central_tile, invert_y0, q_function
from skyhunt.mf import noise
from skyhunt.mf.matching import match_halos
from skyhunt.mf.pipeline import point_source_noise
from skyhunt.mf.pointsources import bright_sources
from skyhunt.mf.readers import read_scan_transfer
from skyhunt.mf.search import SearchInputs
from skyhunt.mf.transfer import tile_layout
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_cmb_spectrum, read_halos, read_sources, source_flux_columns
from skyhunt.sky.sources import POPULATIONS

log = logging.getLogger("skyhunt.masses")

#: Columns of the MF mass table and their units.
MASS_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "snr": "",
    "y0_fixed": "Compton-y (central value, reference Arnaud filter)",
    "z": "(true redshift of the matched halo)",
    "halo_id": "(-1: no halo within mf.matching.radius_arcmin)",
    "m500c": "M_sun",
    "m500c_lo": "M_sun",
    "m500c_hi": "M_sun",
    "m500c_true": "M_sun",
}

#: Columns of the CNN mass table that its metrics and figure read (no torch here).
CNN_MASS_COLUMNS = ("cutout_id", "halo_id", "z", "m500c", "m500c_true", "split")

#: Central probability of the m500c_lo / m500c_hi interval.
MASS_INTERVAL = 0.68


def model_point_source_cl(sources, bands, point_sources, mf, components, footprint) -> np.ndarray | None:
    """The point-source term of the MF noise model for Q, as the matched filter models it.

    The shot noise of the catalogue's sources that the search leaves in the maps
    (:func:`skyhunt.mf.pipeline.point_source_noise`), or the configured population
    (``mf.noise_model.point_sources: config``, or no catalogue: ``treatment: detect``);
    None when the stage holds no point sources.
    """
    present = [p for p in POPULATIONS if p in components]
    if not present:
        return None
    if not sources or mf["noise_model"]["point_sources"] == "config":
        return noise.config_point_sources(bands, point_sources)
    catalogue = read_sources(sources, source_flux_columns(bands))
    catalogue = catalogue[catalogue["population"].isin(present)]
    removed = catalogue.iloc[:0]
    if mf["point_sources"]["treatment"] != "none":
        removed = bright_sources(catalogue, bands, mf["point_sources"]["flux_min_mjy"])
    return point_source_noise(catalogue, removed, bands, point_sources, mf, footprint)


def run_mf_masses(
    *,
    nside: int,
    footprint: dict,
    bands: list,
    point_sources: dict,
    mf: dict,
    components: list,
    cosmology: dict,
    halo_model: dict,
    masses: dict,
    stage: str,
    candidates,
    halos,
    spectrum,
    table,
    sources=None,
    transfer=None,
    scan_filter: dict | None = None,
    red_noise: dict | None = None,
) -> None:
    """Mass of every MF candidate of one stage from its fixed-scale y0, at the matched halo's true z.

    Q(theta500) is computed with the model filter of the tile nearest the footprint's centre
    (:func:`skyhunt.masses.ym.q_function`); each candidate takes the true redshift of the
    halo it matches (:func:`skyhunt.mf.matching.match_halos`, the most massive within
    ``mf.matching.radius_arcmin``; a real survey has optical follow-up instead) and gets NaN
    masses when it matches none.

    Parameters
    ----------
    nside, footprint, bands, point_sources, components, red_noise :
        As :func:`skyhunt.mf.pipeline.run_matched_filter` (the filter's inputs).
    mf : dict
        Config ``mf`` (with ``matching``).
    cosmology : dict
        Config ``sky.cosmology``.
    halo_model : dict
        Config ``sky.halos`` keys ``y_scatter_ln``, ``truncation_r500``, ``mass_function``.
    masses : dict
        Config ``masses``.
    stage : str
        The noise stage of ``candidates``.
    candidates, halos, spectrum : path-like
        The stage's candidate table (with ``y0_fixed``, ``snr_fixed``), the halo table, the CMB
        spectrum.
    table : path-like
        Output Parquet table, one row per candidate in candidates order (:data:`MASS_UNITS`).
    sources, transfer : path-like, optional
        The point-source catalogue (when the filter reads it) and the scan filter's transfer
        (when the maps are scan-filtered).
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when it filters the maps (Q's model clusters are filtered alike).
    """
    cand = read_fixed_candidates(candidates)
    halo = read_halos(halos, ("halo_id", "ra", "dec", "m_vir", "m500c", "z"))
    fp = Footprint.from_config(footprint)
    scan = None if transfer is None else read_scan_transfer(transfer, tile_layout(fp, mf["tiles"]))
    inp = SearchInputs(
        nside=nside,
        footprint=fp,
        bands=bands,
        ps_cl=model_point_source_cl(sources, bands, point_sources, mf, components, fp),
        mf_cfg=mf,
        cl_cmb=read_cmb_spectrum(spectrum),
        components=components,
        scan_transfer=scan,
        red_noise=red_noise,
    )
    layout, tile = central_tile(inp)
    q = q_function(inp, layout, tile, halo_model["truncation_r500"], masses["q_theta500_arcmin"], scan_filter)
    log.info(
        "Q(theta500) of tile %d (Dec %.2f): %s",
        tile.index,
        tile.dec0,
        ", ".join(f"{t:g}': {v:.3f}" for t, v in zip(q.theta500_arcmin, q.q, strict=True)),
    )
    if np.any(q.q <= 0):
        log.warning(
            "Q is not positive at theta500 = %s arcmin: the reference filter does not resolve such "
            "clusters on these pixels, and candidates there get no mass",
            ", ".join(f"{t:g}" for t in q.theta500_arcmin[q.q <= 0]),
        )
    row = match_halos(cand["ra"], cand["dec"], halo, mf["matching"]["radius_arcmin"])
    matched = row >= 0
    pick = np.where(matched, row, 0)

    def of_halo(col, fill):
        return np.where(matched, halo[col].to_numpy()[pick], fill)

    z = of_halo("z", np.nan)
    y0, snr_fixed = cand["y0_fixed"].to_numpy(), cand["snr_fixed"].to_numpy()
    sigma_y = np.where(snr_fixed != 0, y0 / np.where(snr_fixed != 0, snr_fixed, 1.0), np.nan)
    mass = estimate_masses(y0, sigma_y, z, q, cosmology, halo_model, masses["eddington"])
    columns = {
        "ra": cand["ra"].to_numpy(),
        "dec": cand["dec"].to_numpy(),
        "snr": cand["snr"].to_numpy(),
        "y0_fixed": y0,
        "z": z,
        "halo_id": of_halo("halo_id", -1).astype(np.int64),
        **mass,
        "m500c_true": of_halo("m500c", np.nan),
    }
    meta = {
        "stage": stage,
        "redshift": "true redshift of the matched halo (the most massive halo within "
        "mf.matching.radius_arcmin of the candidate), not a measured one; NaN masses without a match",
        "reference_theta500_arcmin": mf["masses"]["reference_theta500_arcmin"],
        "eddington": masses["eddington"],
        "y_scatter_ln": halo_model["y_scatter_ln"],
        "interval": MASS_INTERVAL,
        "q": {"theta500_arcmin": q.theta500_arcmin.tolist(), "q": q.q.tolist(), "tile": tile.index},
    }
    io.write_table(table, columns, MASS_UNITS, meta=meta)
    log.info(
        "%d candidates, %d matched to a halo, %d with a mass (Eddington correction %s)",
        len(cand),
        int(matched.sum()),
        int(np.isfinite(mass["m500c"]).sum()),
        "on" if masses["eddington"] else "off",
    )


def estimate_masses(y0, sigma_y, z, q: QFunction, cosmology: dict, halo_model: dict, eddington: bool) -> dict:
    """``m500c``, ``m500c_lo``, ``m500c_hi`` (M_sun) of objects with fixed-scale y0 ± sigma_y at z.

    Without the Eddington correction, ``m500c`` solves the Y-M relation at the measured y0
    (:func:`skyhunt.masses.ym.invert_y0`) and the interval is that of the likelihood (the y0
    noise and the intrinsic scatter, flat prior in ln M); with it, all three come from the
    posterior with the mass function prior (:func:`skyhunt.masses.eddington.posterior_masses`).
    """
    median, lo, hi = posterior_masses(y0, sigma_y, z, q, cosmology, halo_model, eddington, MASS_INTERVAL)
    if not eddington:
        median = invert_y0(y0, z, q, cosmology, halo_model["truncation_r500"])
        lo, hi = (np.where(np.isfinite(median), v, np.nan) for v in (lo, hi))
    return {"m500c": median, "m500c_lo": lo, "m500c_hi": hi}


def run_mf_mass_metrics(
    *, footprint: dict, splits: dict, metrics: dict, bootstrap: dict, seed: int, table, summary
) -> None:
    """Bias and scatter of ln(M_est / M_true) on the test stripe, overall and in bins of M and z.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    splits : dict
        Config ``cutouts.splits`` (the test stripe, :func:`skyhunt.cutouts.layout.split_of`).
    metrics : dict
        Config ``masses.metrics``: ``snr_min``, ``m500c_bins`` (M_sun), ``z_bins``.
    bootstrap : dict
        Config ``evaluation.bootstrap`` (``samples``, ``interval``).
    seed : int
        Run seed (stream ``mass_bootstrap``).
    table : path-like
        The mass table of :func:`run_mf_masses`.
    summary : path-like
        Output JSON.
    """
    masses = read_masses(table, tuple(MASS_UNITS))
    meta = io.read_table_meta(table)
    fp = Footprint.from_config(footprint)
    sel = metric_selection(masses, footprint, splits, metrics["snr_min"])
    used = masses[sel]
    ln_ratio = np.log(used["m500c"].to_numpy() / used["m500c_true"].to_numpy())
    out = {
        "stage": meta.get("stage"),
        "eddington": meta.get("eddington"),
        "redshift": meta.get("redshift"),
        "snr_min": metrics["snr_min"],
        "candidates": len(masses),
        "with_mass": int(np.isfinite(masses["m500c"]).sum()),
        "test_candidates": int(np.sum(split_of(masses["ra"].to_numpy(), fp, splits) == "test")),
    }
    rng = component_rng(seed, "mass_bootstrap")
    out |= mass_statistics(ln_ratio, used, metrics, bootstrap, rng)
    write_mass_summary(out, summary, f"test, SNR >= {metrics['snr_min']:g}")


def mass_statistics(ln_ratio, used: pd.DataFrame, metrics: dict, bootstrap: dict, rng) -> dict:
    """Bias and scatter of ``ln_ratio`` overall (``all``) and in the bins of ``masses.metrics``.

    ``used`` holds the objects' true ``m500c_true`` (M_sun) and ``z``; the bootstrap draws from ``rng``.
    """
    args = (bootstrap["samples"], bootstrap["interval"], rng)
    return {
        "all": bias_scatter(ln_ratio, *args),
        "by_m500c": binned(ln_ratio, used["m500c_true"].to_numpy(), metrics["m500c_bins"], *args),
        "by_z": binned(ln_ratio, used["z"].to_numpy(), metrics["z_bins"], *args),
        "interval": bootstrap["interval"],
        "bootstrap_samples": bootstrap["samples"],
    }


def write_mass_summary(out: dict, summary, what: str) -> None:
    """Write the metrics ``out`` as JSON to ``summary`` and log the overall bias and scatter."""
    with io.atomic_output(summary) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    a = out["all"]
    if a["bias"] is not None:
        log.info(
            "%s: %d clusters, bias %.3f [%.3f, %.3f], scatter %.3f [%.3f, %.3f]",
            what,
            a["n"],
            a["bias"],
            a["bias_lo"],
            a["bias_hi"],
            a["scatter"],
            a["scatter_lo"],
            a["scatter_hi"],
        )


def run_cnn_mass_metrics(*, metrics: dict, bootstrap: dict, seed: int, table, summary) -> None:
    """Bias and scatter of the CNN's ln(M_est / M_true) on the test positives, overall and in bins.

    Parameters
    ----------
    metrics : dict
        Config ``masses.metrics`` keys ``m500c_bins`` (M_sun) and ``z_bins`` (every test positive
        cutout counts, whatever its SNR).
    bootstrap : dict
        Config ``evaluation.bootstrap`` (``samples``, ``interval``).
    seed : int
        Run seed (stream ``cnn_mass_bootstrap``).
    table : path-like
        The CNN mass table (rule ``cnn_masses``, columns of
        :data:`skyhunt.masses.cnn_pipeline.CNN_MASS_UNITS`).
    summary : path-like
        Output JSON.
    """
    masses = read_masses(table, CNN_MASS_COLUMNS)
    meta = io.read_table_meta(table)
    used = masses[masses["split"].to_numpy() == "test"]
    ln_ratio = np.log(used["m500c"].to_numpy() / used["m500c_true"].to_numpy())
    if not np.all(np.isfinite(ln_ratio)):
        raise io.InputFileError(f"table {table}: test masses that are not finite and positive")
    out = {"stage": meta.get("stage"), "redshift": meta.get("redshift"), "trained_on": meta.get("trained_on")}
    out |= mass_statistics(ln_ratio, used, metrics, bootstrap, component_rng(seed, "cnn_mass_bootstrap"))
    write_mass_summary(out, summary, "CNN, test positives")


def metric_selection(masses: pd.DataFrame, footprint: dict, splits: dict, snr_min: float) -> np.ndarray:
    """Candidates of the metrics: on the test stripe, SNR >= ``snr_min``, with a mass and a true mass."""
    on_test = split_of(masses["ra"].to_numpy(), Footprint.from_config(footprint), splits) == "test"
    return (
        on_test
        & (masses["snr"].to_numpy() >= snr_min)
        & np.isfinite(masses["m500c"].to_numpy())
        & np.isfinite(masses["m500c_true"].to_numpy())
    )
