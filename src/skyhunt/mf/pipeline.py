"""One function per Snakemake rule of the matched-filter stage (DeepSZ sections 2.1 and 2.3)."""

from __future__ import annotations

import logging
import time

import numpy as np

from skyhunt import io
from skyhunt.cutouts.grid import CutoutGeometry
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.mf import noise, templates
from skyhunt.mf.matching import CUTOUT_SNR_UNITS, cutout_snr
from skyhunt.mf.pointsources import bright_sources, d3000, shot_noise_spectrum, subtract_sources
from skyhunt.mf.psdetect import DETECTED_UNITS, detect_sources
from skyhunt.mf.readers import read_candidates, read_scan_transfer
from skyhunt.mf.search import SearchInputs, candidate_units, search
from skyhunt.mf.transfer import measure_scan_transfer, tile_layout, write_scan_transfer
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import (
    read_cmb_spectrum,
    read_halos,
    read_ivar_maps,
    read_sources,
    source_flux_columns,
)
from skyhunt.sky.sources import POPULATIONS, flux_column

log = logging.getLogger("skyhunt.mf")


def point_source_noise(
    catalogue, removed, bands: list, point_sources: dict, mf: dict, footprint: Footprint
) -> np.ndarray:
    """Point-source C_ell of the MF noise model, µK² sr, shape (n_bands, n_bands).

    ``mf.noise_model.point_sources: catalogue`` (default): the shot noise of
    the sources left in the maps (:func:`skyhunt.mf.pointsources.shot_noise_spectrum`
    of ``catalogue`` without the ``removed`` rows, i.e. after subtraction or
    masking; all of it for ``treatment: none``). ``config``: the whole
    population's ``ps_d3000_uk2`` (:func:`skyhunt.mf.noise.config_point_sources`),
    for maps without a catalogue.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The catalogue's sources of the populations in the maps.
    removed : pandas.DataFrame
        Its rows that were subtracted or masked.
    bands, point_sources, mf : dict
        Config ``sky.bands``, ``sky.point_sources``, ``mf``.
    footprint : Footprint

    Raises
    ------
    ValueError
        For ``catalogue`` with no sources: the maps hold some (their stage adds ``ir`` or
        ``radio``) that the catalogue does not list.
    """
    if mf["noise_model"]["point_sources"] == "config":
        cl = noise.config_point_sources(bands, point_sources)
    elif catalogue.empty:
        raise ValueError(
            "the maps hold point sources but the source catalogue has none of them, so "
            "mf.noise_model.point_sources: catalogue cannot model them: set "
            "mf.noise_model.point_sources: config (or mf.noise: maps, or give a catalogue)"
        )
    else:
        cl = shot_noise_spectrum(catalogue.drop(index=removed.index), bands, footprint)
    log.info(
        "point-source noise model (%s): D_3000 = %s µK² in bands %s",
        mf["noise_model"]["point_sources"],
        ", ".join(f"{d:.3g}" for d in d3000(np.diag(cl))),
        ", ".join(b["name"] for b in bands),
    )
    return cl


def catalogue_removed(bright, bands: list) -> dict:
    """Rows of the removed-source table for catalogue sources: every band, SNR not measured (NaN)."""
    n = len(bright)
    return {
        "ra": np.tile(bright["ra"].to_numpy(), len(bands)),
        "dec": np.tile(bright["dec"].to_numpy(), len(bands)),
        "band": np.repeat([b["name"] for b in bands], n),
        "snr": np.full(n * len(bands), np.nan),
        "flux_mjy": np.concatenate([bright[flux_column(b)].to_numpy() for b in bands]),
    }


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
    candidates,
    removed_sources,
    sources=None,
    scan_filter: dict | None = None,
    transfer=None,
    red_noise: dict | None = None,
    ivar: list = (),
    threads: int = 1,
) -> None:
    """Filter one noise stage's maps and write its candidate table.

    Parameters
    ----------
    maps : list of path-like
        The stage's observed maps, in ``bands`` order.
    candidates : path-like
        Output candidate table (Parquet; columns and units in :func:`skyhunt.mf.search.candidate_units`).
    removed_sources : path-like
        Output table of the point sources removed before the cluster search (Parquet; columns
        and units in :data:`skyhunt.mf.psdetect.DETECTED_UNITS`, one row per source and band;
        ``snr`` is NaN for catalogue sources).
    nside, footprint, bands, point_sources, mf, components, stage, spectrum, sources
        As :func:`filter_maps`.
    scan_filter, transfer, red_noise, ivar, threads
        As :func:`filter_maps`.
    """
    pixels, values = io.read_partial_maps(maps, nside=nside)
    cand, removed = filter_maps(
        pixels,
        values,
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
        map_name=maps[0],
        threads=threads,
    )
    meta = write_candidates(candidates, cand, mf=mf, stage=stage, bands=bands)
    io.write_table(removed_sources, removed, DETECTED_UNITS, meta=meta)
    for s in (4.5, 5.0):
        log.info("stage %s: %d candidates with SNR >= %.1f", stage, int(np.sum(cand["snr"] >= s)), s)


def write_candidates(path, cand, *, mf: dict, stage: str, bands: list[dict]) -> dict:
    """Write a candidate table of :func:`filter_maps` to ``path`` (Parquet, with units); returns its metadata.

    Parameters
    ----------
    path : path-like
        Output Parquet table.
    cand : DataFrame
        The candidates (:func:`candidate_units` columns).
    mf : dict
        Config ``mf`` (the template bank fixes the per-scale columns).
    stage : str
        Noise stage of the maps.
    bands : list of dict
        Config ``sky.bands``.
    """
    meta = {"mf": mf, "stage": stage, "bands": [b["name"] for b in bands]}
    units = candidate_units(templates.template_bank(np.ones(1), mf)[0].size)
    io.write_table(path, {c: cand[c].to_numpy() for c in units}, units, meta=meta)
    return meta


def filter_maps(
    pixels: np.ndarray,
    values: np.ndarray,
    *,
    nside: int,
    footprint: dict,
    bands: list,
    point_sources: dict,
    mf: dict,
    components: list,
    stage: str,
    spectrum,
    sources=None,
    scan_filter: dict | None = None,
    transfer=None,
    red_noise: dict | None = None,
    ivar: list = (),
    map_name: str = "the maps",
    threads: int = 1,
):
    """The matched filter's candidates and removed point sources of one noise stage's maps.

    Parameters
    ----------
    pixels : ndarray of int
        Sorted RING pixels of the maps.
    values : ndarray, shape (npix, n_bands), float32
        The stage's maps at ``pixels``, µK_CMB, in ``bands`` order (bright sources are
        subtracted in place for ``mf.point_sources.treatment: subtract``).
    nside : int
        HEALPix resolution of the maps.
    footprint : dict
        Config ``sky.footprint`` (deg).
    bands : list of dict
        Config ``sky.bands`` (frequencies in GHz, white noise in µK-arcmin, beams in arcmin,
        point-source power in µK²).
    point_sources : dict
        Config ``sky.point_sources`` (the source populations' spectra, for
        ``mf.noise_model.point_sources: config``).
    mf : dict
        Config ``mf`` without ``matching``.
    components : list of str
        The sky components in the stage's maps.
    stage : str
        Noise stage name.
    spectrum : path-like
        CMB spectrum (ECSV) for the noise model.
    sources : path-like, optional
        Point-source catalogue (bright sources are subtracted or masked, the rest modelled);
        absent for ``mf.point_sources.treatment: detect``, which never reads it.
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when it filters the maps (removed sources are subtracted
        filtered alike).
    transfer : path-like, optional
        The scan filter's measured transfer (:func:`run_scan_transfer`); only when
        ``sky.scan_filter`` filters the maps.
    red_noise : dict, optional
        Config ``sky.noise`` keys ``red_correlation``, ``red_ell_min``, ``red_cut_fraction``
        (the red-noise term of the noise model; needed when a band has ``ell_knee``).
    ivar : list of path-like
        Depth maps in ``bands`` order (:func:`skyhunt.sky.depth.run_depth_map`), or empty
        for uniform depth: each tile's model takes its mean depth and the SNR is
        normalised to the local depth (:func:`skyhunt.mf.search.local_noise`).
    map_name : str
        What the maps are called in errors (e.g. the first map's path).
    threads : int
        Threads of the FFTs.

    Returns
    -------
    candidates : pandas.DataFrame
        Columns of :func:`skyhunt.mf.search.candidate_units`, sorted by decreasing SNR.
    removed : dict of ndarray
        The removed point sources, columns of :data:`skyhunt.mf.psdetect.DETECTED_UNITS`.
    """
    fp = Footprint.from_config(footprint)
    scan_transfer = None if transfer is None else read_scan_transfer(transfer, tile_layout(fp, mf["tiles"]))
    depth = None
    if ivar:
        ivar_pixels, depth = read_ivar_maps(ivar, nside)
        if not np.array_equal(ivar_pixels, pixels):
            raise io.InputFileError(f"inverse-variance map {ivar[0]} covers different pixels from {map_name}")
    present = [p for p in POPULATIONS if p in components]
    ps = mf["point_sources"]
    inp = SearchInputs(
        nside=nside,
        footprint=fp,
        bands=bands,
        ps_cl=None,
        mf_cfg=mf,
        cl_cmb=read_cmb_spectrum(spectrum),
        components=components,
        scan_transfer=scan_transfer,
        red_noise=red_noise,
        ivar=depth,
    )
    removed = {c: np.array([], dtype=str if c == "band" else float) for c in DETECTED_UNITS}
    if present and ps["treatment"] == "detect":
        found, cleaned = detect_sources(values, pixels, inp, threads, scan_filter)
        removed = {c: found[c].to_numpy() for c in DETECTED_UNITS}
        if ps["detect"]["action"] == "subtract":
            values = cleaned
        else:
            inp.holes = (found["ra"].to_numpy(), found["dec"].to_numpy())
    elif present:
        catalogue = read_sources(sources, source_flux_columns(bands))
        catalogue = catalogue[catalogue["population"].isin(present)]
        bright = catalogue.iloc[:0]
        if ps["treatment"] != "none":
            bright = bright_sources(catalogue, bands, ps["flux_min_mjy"])
            removed = catalogue_removed(bright, bands)
        if ps["treatment"] == "subtract":
            t0 = time.perf_counter()
            subtract_sources(values, pixels, nside, bright, bands, present, scan_filter)
            log.info(
                "subtracted %d sources above %.3g mJy in %.1f s",
                len(bright),
                ps["flux_min_mjy"],
                time.perf_counter() - t0,
            )
        elif ps["treatment"] == "mask":
            inp.holes = (bright["ra"].to_numpy(), bright["dec"].to_numpy())
            log.info("masking %d sources above %.3g mJy", len(bright), ps["flux_min_mjy"])
        if mf["noise"] == "model":
            inp.ps_cl = point_source_noise(catalogue, bright, bands, point_sources, mf, fp)
    cand = search(values, pixels, inp, threads)
    cand["stage"] = stage
    return cand, removed


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
