"""One function per Snakemake rule of the matched-filter stage (DeepSZ sections 2.1 and 2.3)."""

from __future__ import annotations

import logging
import time

import numpy as np

from skyhunt import io
from skyhunt.cutouts.grid import CutoutGeometry
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.mf.matching import CUTOUT_SNR_UNITS, cutout_snr
from skyhunt.mf.pointsources import bright_sources, subtract_sources
from skyhunt.mf.readers import read_candidates
from skyhunt.mf.search import CANDIDATE_UNITS, SearchInputs, search
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import (
    read_cmb_spectrum,
    read_halos,
    read_ivar_maps,
    read_sources,
    source_flux_columns,
)
from skyhunt.sky.sources import POPULATIONS

log = logging.getLogger("skyhunt.mf")


def run_matched_filter(
    *,
    nside: int,
    footprint: dict,
    bands: list,
    point_sources: dict,
    mf: dict,
    components: list,
    stage: str,
    maps: list,
    spectrum,
    sources,
    candidates,
    red_noise: dict | None = None,
    ivar: list = (),
    threads: int = 1,
) -> None:
    """Filter one noise stage's maps and write its candidate table.

    Parameters
    ----------
    nside : int
        HEALPix resolution of the maps.
    footprint : dict
        Config ``sky.footprint`` (deg).
    bands : list of dict
        Config ``sky.bands`` (frequencies in GHz, white noise in µK-arcmin, beams in arcmin,
        point-source power in µK²), in the order of ``maps``.
    point_sources : dict
        Config ``sky.point_sources`` (the source populations' spectra, for the noise model).
    mf : dict
        Config ``mf`` without ``matching``.
    components : list of str
        The sky components in the stage's maps.
    stage : str
        Noise stage name.
    maps : list of path-like
        The stage's observed maps, in ``bands`` order.
    spectrum : path-like
        CMB spectrum (ECSV) for the noise model.
    sources : path-like
        Point-source catalogue (bright sources are subtracted or masked).
    candidates : path-like
        Output candidate table (Parquet; columns and units in :data:`CANDIDATE_UNITS`).
    red_noise : dict, optional
        Config ``sky.noise`` keys ``red_correlation``, ``red_ell_min``, ``red_cut_fraction``
        (the red-noise term of the noise model; needed when a band has ``ell_knee``).
    ivar : list of path-like
        Depth maps in ``bands`` order (:func:`skyhunt.sky.depth.run_depth_map`), or empty
        for uniform depth: each tile's model takes its mean depth and the SNR is
        normalised to the local depth (:func:`skyhunt.mf.search.local_noise`).
    threads : int
        Threads of the FFTs.
    """
    pixels, values = io.read_partial_maps(maps, nside=nside)
    depth = None
    if ivar:
        ivar_pixels, depth = read_ivar_maps(ivar, nside)
        if not np.array_equal(ivar_pixels, pixels):
            raise io.InputFileError(f"inverse-variance map {ivar[0]} covers different pixels from {maps[0]}")
    present = [p for p in POPULATIONS if p in components]
    ps = mf["point_sources"]
    holes = None
    if present and ps["treatment"] != "none":
        catalogue = read_sources(sources, source_flux_columns(bands))
        bright = bright_sources(catalogue, bands, ps["flux_min_mjy"])
        bright = bright[bright["population"].isin(present)]
        if ps["treatment"] == "subtract":
            t0 = time.perf_counter()
            subtract_sources(values, pixels, nside, bright, bands, present)
            log.info(
                "subtracted %d sources above %.3g mJy in %.1f s",
                len(bright),
                ps["flux_min_mjy"],
                time.perf_counter() - t0,
            )
        else:
            holes = (bright["ra"].to_numpy(), bright["dec"].to_numpy())
            log.info("masking %d sources above %.3g mJy", len(bright), ps["flux_min_mjy"])
    inp = SearchInputs(
        nside=nside,
        footprint=Footprint.from_config(footprint),
        bands=bands,
        point_sources_cfg=point_sources,
        mf_cfg=mf,
        cl_cmb=read_cmb_spectrum(spectrum),
        components=components,
        holes=holes,
        red_noise=red_noise,
        ivar=depth,
    )
    cand = search(values, pixels, inp, threads)
    cand["stage"] = stage
    io.write_table(
        candidates,
        {c: cand[c].to_numpy() for c in CANDIDATE_UNITS},
        CANDIDATE_UNITS,
        meta={"mf": mf, "stage": stage, "bands": [b["name"] for b in bands]},
    )
    for s in (4.5, 5.0):
        log.info("stage %s: %d candidates with SNR >= %.1f", stage, int(np.sum(cand["snr"] >= s)), s)


def run_match_mf(*, cutouts: dict, matching: dict, candidates, halos, index, cutout_snr_table) -> None:
    """Match one stage's detections to halos and cutouts; write the per-cutout SNR table.

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` keys of the grid: ``size_arcmin``, ``npix``, ``stride_arcmin`` (arcmin).
    matching : dict
        Config ``mf.matching`` (``radius_arcmin``).
    candidates, halos, index : path-like
        The stage's candidates, the halo table and the cutout index.
    cutout_snr_table : path-like
        Output Parquet table, one row per cutout in index order (:data:`CUTOUT_SNR_UNITS`).
    """
    table = cutout_snr(
        read_candidates(candidates),
        read_halos(halos, ("halo_id", "ra", "dec", "m_vir")),
        read_index(index, (*GRID_COLUMNS, "split")),
        CutoutGeometry.from_config(cutouts),
        cutouts["stride_arcmin"],
        matching["radius_arcmin"],
    )
    io.write_table(
        cutout_snr_table,
        {c: table[c].to_numpy() for c in CUTOUT_SNR_UNITS},
        CUTOUT_SNR_UNITS,
        meta={"matching": matching},
    )
    hit = table["snr"].to_numpy() > 0
    log.info(
        "%d of %d cutouts hold a detection; %d of them a matched halo",
        hit.sum(),
        len(table),
        np.sum(table["halo_id"].to_numpy()[hit] >= 0),
    )
