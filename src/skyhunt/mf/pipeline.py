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
from skyhunt.sky.components import stage_components
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_cmb_spectrum, read_halos, read_sources, source_flux_columns
from skyhunt.sky.sources import POPULATIONS

log = logging.getLogger("skyhunt.mf")


def run_matched_filter(
    cfg: dict, stage: str, map_paths: list, spectrum_path, sources_path, out_path, nthreads: int = 1
) -> None:
    """Filter one noise stage's maps and write its candidate table.

    Parameters
    ----------
    cfg : dict
        Validated config (uses ``sky`` and ``mf``).
    stage : str
        Noise stage name.
    map_paths : list of path-like
        The stage's observed maps, in ``sky.bands`` order.
    spectrum_path : path-like
        CMB spectrum (ECSV) for the noise model.
    sources_path : path-like
        Point-source catalogue (bright sources are subtracted or masked).
    out_path : path-like
        Candidate table (Parquet; columns and units in :data:`CANDIDATE_UNITS`).
    nthreads : int
    """
    sky, mf = cfg["sky"], cfg["mf"]
    bands = sky["bands"]
    components = stage_components(sky["stages"], stage)
    pixels, maps = io.read_partial_maps(map_paths, nside=sky["nside"])
    present = [p for p in POPULATIONS if p in components]
    ps = mf["point_sources"]
    holes = None
    if present and ps["treatment"] != "none":
        catalogue = read_sources(sources_path, source_flux_columns(bands))
        bright = bright_sources(catalogue, bands, ps["flux_min_mjy"])
        bright = bright[bright["population"].isin(present)]
        if ps["treatment"] == "subtract":
            t0 = time.perf_counter()
            subtract_sources(maps, pixels, sky["nside"], bright, bands, present)
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
        nside=sky["nside"],
        footprint=Footprint.from_config(sky["footprint"]),
        bands=bands,
        point_sources_cfg=sky["point_sources"],
        mf_cfg=mf,
        cl_cmb=read_cmb_spectrum(spectrum_path),
        components=components,
        holes=holes,
    )
    cand = search(maps, pixels, inp, nthreads)
    cand["stage"] = stage
    io.write_table(
        out_path,
        {c: cand[c].to_numpy() for c in CANDIDATE_UNITS},
        CANDIDATE_UNITS,
        meta={"mf": mf, "stage": stage, "bands": [b["name"] for b in bands]},
    )
    for s in (4.5, 5.0):
        log.info("stage %s: %d candidates with SNR >= %.1f", stage, int(np.sum(cand["snr"] >= s)), s)


def run_match_mf(cfg: dict, candidates_path, halos_path, index_path, out_path) -> None:
    """Match one stage's detections to halos and cutouts; write the per-cutout SNR table."""
    cc = cfg["cutouts"]
    cand = read_candidates(candidates_path)
    halos = read_halos(halos_path, ("halo_id", "ra", "dec", "m_vir"))
    index = read_index(index_path, (*GRID_COLUMNS, "split"))
    table = cutout_snr(
        cand,
        halos,
        index,
        CutoutGeometry.from_config(cc),
        cc["stride_arcmin"],
        cfg["mf"]["matching"]["radius_arcmin"],
    )
    io.write_table(
        out_path,
        {c: table[c].to_numpy() for c in CUTOUT_SNR_UNITS},
        CUTOUT_SNR_UNITS,
        meta={"matching": cfg["mf"]["matching"]},
    )
    hit = table["snr"].to_numpy() > 0
    log.info(
        "%d of %d cutouts hold a detection; %d of them a matched halo",
        hit.sum(),
        len(table),
        np.sum(table["halo_id"].to_numpy()[hit] >= 0),
    )
