"""One function per Snakemake rule of the sky stage: read inputs, compute, write outputs.

The rule scripts in workflow/scripts only unpack ``snakemake`` and call these,
so every step runs and is tested without Snakemake.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from astropy.table import Table

from skyhunt import io
from skyhunt.sky import components, cosmology, sources
from skyhunt.sky.beam import gaussian_beam_operator
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import HALO_UNITS, qualifying_density, simulate_halos
from skyhunt.sky.readers import (
    HALO_SZ_COLUMNS,
    read_cmb_spectrum,
    read_halos,
    read_sources,
    source_flux_columns,
)
from skyhunt.sky.sz import paint_y_and_tau_v

log = logging.getLogger("skyhunt.sky")


def _footprint_pixels(sky: dict) -> np.ndarray:
    return Footprint.from_config(sky["footprint"]).pixels(sky["nside"])


def write_band_map(path, pixels, values, sky: dict, band: dict, component: str, extra_header=None) -> None:
    """Write one component (or stage) map of one band, with the header keys every sky map carries.

    Parameters
    ----------
    path : path-like
        Output partial map.
    pixels, values : ndarray
        RING pixel indices and values (µK_CMB).
    sky, band : dict
        Config ``sky`` and the band's entry of ``sky.bands``.
    component : str
        Component or noise-stage name (header ``COMPNT``).
    extra_header : dict, optional
        More header cards, ``{key: (value, comment)}``.
    """
    io.write_partial_map(
        path,
        pixels,
        values,
        sky["nside"],
        header={
            "COMPNT": (component, "sky component or noise stage"),
            "BAND": (band["name"], "band name"),
            "FREQ": (float(band["freq_ghz"]), "band centre [GHz]"),
            **(extra_header or {}),
        },
    )


def run_cmb_spectrum(sky: dict, out_path) -> None:
    """Lensed TT spectrum from CAMB for the configured cosmology, to ECSV (µK_CMB^2)."""
    t0 = time.perf_counter()
    cl = cosmology.lensed_tt_spectrum(sky["cosmology"], sky["cmb"]["lmax"])
    ell = np.arange(cl.size)
    table = Table({"ell": ell, "cl_tt": cl}, meta={"cosmology": dict(sky["cosmology"])})
    table["cl_tt"].unit = "uK2"
    table["cl_tt"].description = "lensed CMB TT C_ell (not D_ell), µK_CMB^2"
    with io.atomic_output(out_path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    d3000 = cl[3000] * 3000 * 3001 / (2 * np.pi) if cl.size > 3000 else float("nan")
    log.info(
        "CAMB lensed TT to lmax %d in %.1f s; D_3000 = %.2f uK^2", ell[-1], time.perf_counter() - t0, d3000
    )


def run_halos(sky: dict, seed: int, out_path, positive: dict) -> None:
    """Halo light cone over the padded footprint, to Parquet.

    ``positive`` (config ``cutouts.positive``: m_vir_min in M_sun, z_min) only sets the qualifying
    cut whose density is logged.
    """
    footprint = Footprint.from_config(sky["footprint"])
    rng = components.component_rng(seed, "halos")
    halos = simulate_halos(sky["cosmology"], sky["halos"], footprint, sky["margin_deg"], rng)
    log.info(
        "%d halos (M_vir >= %.2g M_sun), %.2f per deg^2 with M_vir >= %.3g M_sun and z >= %g",
        len(halos),
        sky["halos"]["m_vir_min"],
        qualifying_density(halos, footprint.area_deg2, positive["m_vir_min"], positive["z_min"]),
        positive["m_vir_min"],
        positive["z_min"],
    )
    io.write_table(
        out_path,
        {c: halos[c].to_numpy() for c in halos.columns},
        HALO_UNITS,
        meta={"seed": seed, "footprint": sky["footprint"], "margin_deg": sky["margin_deg"]},
    )


def run_sources(sky: dict, seed: int, halos_path, out_path) -> None:
    """Radio and infrared point-source catalogue, to Parquet (fluxes in mJy)."""
    halos = read_halos(halos_path, ("halo_id", "ra", "dec", "m_vir"))
    footprint = Footprint.from_config(sky["footprint"]).padded(sky["margin_deg"])
    rng = components.component_rng(seed, "sources")
    cat = sources.draw_sources(sky["point_sources"], sky["bands"], footprint, halos, rng)
    log.info("%d point sources: %s", len(cat), cat["population"].value_counts().to_dict())
    io.write_table(
        out_path,
        {c: cat[c].to_numpy() for c in cat.columns},
        sources.source_units(sky["bands"]),
        meta={"seed": seed},
    )


def run_cmb_map(sky: dict, seed: int, spectrum_path, out_paths: list, nthreads: int) -> None:
    """CMB realisation (identical in all bands), one file per band."""
    pixels = _footprint_pixels(sky)
    cl = read_cmb_spectrum(spectrum_path)
    t0 = time.perf_counter()
    cmb = components.cmb_map(cl, sky["nside"], pixels, components.component_rng(seed, "cmb"), nthreads)
    log.info("synthesised CMB on %d pixels in %.1f s", pixels.size, time.perf_counter() - t0)
    for band, path in zip(sky["bands"], out_paths, strict=True):
        write_band_map(path, pixels, cmb, sky, band, "cmb")


def run_sz_maps(sky: dict, halos_path, tsz_paths: list, ksz_paths: list) -> None:
    """Thermal SZ per band and kinematic SZ (same in all bands) from the halo table."""
    pixels = _footprint_pixels(sky)
    halos = read_halos(halos_path, HALO_SZ_COLUMNS)
    t0 = time.perf_counter()
    y, tau_v = paint_y_and_tau_v(halos, sky["nside"], pixels, sky["halos"]["truncation_r500"])
    log.info("painted %d halos in %.1f s; max y = %.3g", len(halos), time.perf_counter() - t0, y.max())
    ksz = components.ksz_map(tau_v)
    for band, tpath, kpath in zip(sky["bands"], tsz_paths, ksz_paths, strict=True):
        write_band_map(tpath, pixels, components.tsz_map(y, band["freq_ghz"]), sky, band, "tsz")
        write_band_map(kpath, pixels, ksz, sky, band, "ksz")


def run_source_maps(sky: dict, sources_path, ir_paths: list, radio_paths: list) -> None:
    """Infrared and radio point-source maps per band from the source catalogue."""
    pixels = _footprint_pixels(sky)
    cat = read_sources(sources_path, source_flux_columns(sky["bands"]))
    for band, ipath, rpath in zip(sky["bands"], ir_paths, radio_paths, strict=True):
        for population, path in (("ir", ipath), ("radio", rpath)):
            m = sources.paint_sources(cat, population, band, sky["nside"], pixels)
            write_band_map(path, pixels, m, sky, band, population)


def run_dust_map(sky: dict, seed: int, out_paths: list, nthreads: int) -> None:
    """Galactic dust per band (modified blackbody scaling of one Gaussian field)."""
    pixels = _footprint_pixels(sky)
    maps = components.dust_maps(
        sky["dust"], sky["bands"], sky["nside"], pixels, components.component_rng(seed, "dust"), nthreads
    )
    for band, path in zip(sky["bands"], out_paths, strict=True):
        write_band_map(path, pixels, maps[band["name"]], sky, band, "dust")


def run_noise_map(sky: dict, seed: int, band_name: str, out_path) -> None:
    """White instrument noise for one band."""
    band = _band(sky, band_name)
    pixels = _footprint_pixels(sky)
    rng = components.component_rng(seed, f"noise_{band_name}")
    noise = components.noise_map(band["noise_uk_arcmin"], sky["nside"], pixels.size, rng)
    write_band_map(out_path, pixels, noise, sky, band, "noise")


def run_observed_map(sky: dict, band_name: str, stage: str, input_paths: list, out_path) -> None:
    """Observed map of one noise stage and band: beam * (sum of sky components) + noise.

    ``input_paths`` lists the stage's component maps with the noise map last.
    """
    band = _band(sky, band_name)
    pixels, maps = io.read_partial_maps(input_paths, nside=sky["nside"])
    total = maps[:, :-1].sum(axis=1, dtype=np.float64)
    if band["beam_fwhm_arcmin"] > 0:
        total = gaussian_beam_operator(sky["nside"], pixels, band["beam_fwhm_arcmin"]) @ total
        log.info("applied %.2f arcmin FWHM Gaussian beam", band["beam_fwhm_arcmin"])
    noise = maps[:, -1]
    write_band_map(out_path, pixels, total + noise, sky, band, stage)


def _band(sky: dict, name: str) -> dict:
    for band in sky["bands"]:
        if band["name"] == name:
            return band
    raise KeyError(f"band {name!r} is not in config sky.bands")
