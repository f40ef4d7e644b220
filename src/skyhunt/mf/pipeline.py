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
from skyhunt.mf.readers import read_candidates, read_scan_transfer
from skyhunt.mf.search import CANDIDATE_UNITS, SearchInputs, search
from skyhunt.mf.transfer import measure_scan_transfer, tile_layout, write_scan_transfer
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_cmb_spectrum, read_halos, read_sources, source_flux_columns
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
    scan_filter: dict | None = None,
    transfer=None,
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
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when it filters the maps (bright sources are subtracted
        filtered alike).
    transfer : path-like, optional
        The scan filter's measured transfer (:func:`run_scan_transfer`); only when
        ``sky.scan_filter`` filters the maps.
    threads : int
        Threads of the FFTs.
    """
    box = Footprint.from_config(footprint)
    scan_transfer = None if transfer is None else read_scan_transfer(transfer, tile_layout(box, mf["tiles"]))
    pixels, values = io.read_partial_maps(maps, nside=nside)
    present = [p for p in POPULATIONS if p in components]
    ps = mf["point_sources"]
    holes = None
    if present and ps["treatment"] != "none":
        catalogue = read_sources(sources, source_flux_columns(bands))
        bright = bright_sources(catalogue, bands, ps["flux_min_mjy"])
        bright = bright[bright["population"].isin(present)]
        if ps["treatment"] == "subtract":
            t0 = time.perf_counter()
            subtract_sources(values, pixels, nside, bright, bands, present, scan_filter)
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
        footprint=box,
        bands=bands,
        point_sources_cfg=point_sources,
        mf_cfg=mf,
        cl_cmb=read_cmb_spectrum(spectrum),
        components=components,
        holes=holes,
        scan_transfer=scan_transfer,
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


def run_scan_transfer(
    *, nside: int, footprint: dict, scan_filter: dict, tiles: dict, seed: int, transfer, threads: int = 1
) -> None:
    """Measure the scan filter's transfer on the matched filter's tiles and write it to FITS.

    Parameters
    ----------
    nside : int
        HEALPix resolution of the maps.
    footprint : dict
        Config ``sky.footprint`` (deg).
    scan_filter : dict
        Config ``sky.scan_filter`` (the filter, and ``transfer_realisations``, the number of
        simulated fields).
    tiles : dict
        Config ``mf.tiles`` (degrees, arcmin).
    seed : int
        Run seed (stream ``scan_transfer``).
    transfer : path-like
        Output FITS file (:func:`skyhunt.mf.transfer.write_scan_transfer`).
    threads : int
        Threads of the FFTs.
    """
    st = measure_scan_transfer(
        nside,
        Footprint.from_config(footprint),
        scan_filter,
        tiles,
        scan_filter["transfer_realisations"],
        component_rng(seed, "scan_transfer"),
        threads,
    )
    header = {
        "NSIDE": (nside, "HEALPix resolution of the filtered maps"),
        "POLYORD": (scan_filter["poly_order"], "polynomial order removed per scan (-1: none)"),
        "HPELLX": (float(scan_filter["highpass_ell_x"]), "high-pass cut in ell_x (0: none)"),
        "TAPERELL": (float(scan_filter["taper_ell"]), "width of the high-pass taper in ell_x"),
        "NREAL": (scan_filter["transfer_realisations"], "white-noise fields averaged"),
    }
    write_scan_transfer(transfer, st, header)
    for dec0, t in zip(st.dec0_deg, st.transfer, strict=True):
        log.info("scan transfer, tile row at Dec %.2f deg: T(kx = 0) mean %.3f", dec0, t[:, 0].mean())


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
