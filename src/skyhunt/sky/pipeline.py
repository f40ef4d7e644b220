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
from skyhunt.sky import components
from skyhunt.sky.beam import beam_key, beam_of
from skyhunt.sky.cosmology import lensed_tt_spectrum as cosmology_spectrum
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import HALO_UNITS, simulate_halos
from skyhunt.sky.instrument import has_red_noise, red_lmax
from skyhunt.sky.readers import (
    HALO_SZ_COLUMNS,
    read_cmb_spectrum,
    read_halos,
    read_ivar_maps,
    read_sources,
    source_flux_columns,
)
from skyhunt.sky.scan import filter_scans
from skyhunt.sky.sources import draw_sources, paint_sources, source_units
from skyhunt.sky.sz import RELATIVISTIC_MOMENTS, paint_y_and_tau_v, relativistic_tsz_map

log = logging.getLogger("skyhunt.sky")


def _footprint_pixels(footprint: dict, nside: int) -> np.ndarray:
    return Footprint.from_config(footprint).pixels(nside)


def write_band_map(
    path, pixels, values, nside: int, band: dict, component: str, extra_header=None, unit: str = "uK_CMB"
) -> None:
    """Write one component (or stage) map of one band, with the header keys every sky map carries.

    Parameters
    ----------
    path : path-like
        Output partial map.
    pixels, values : ndarray
        RING pixel indices and values (µK_CMB).
    nside : int
        HEALPix resolution of ``pixels``.
    band : dict
        The band's entry of ``sky.bands`` (``name``, ``freq_ghz`` in GHz).
    component : str
        Component or noise-stage name (header ``COMPNT``).
    extra_header : dict, optional
        More header cards, ``{key: (value, comment)}``.
    unit : str
        Unit of ``values`` (``TUNIT2``): µK_CMB, or µK^-2 for depth maps.
    """
    io.write_partial_map(
        path,
        pixels,
        values,
        nside,
        unit=unit,
        header={
            "COMPNT": (component, "sky component or noise stage"),
            "BAND": (band["name"], "band name"),
            "FREQ": (float(band["freq_ghz"]), "band centre [GHz]"),
            **(extra_header or {}),
        },
    )


def run_cmb_spectrum(*, cosmology: dict, lmax: int, spectrum) -> None:
    """Lensed TT spectrum from CAMB for the configured cosmology, to ECSV (µK_CMB^2).

    Parameters
    ----------
    cosmology : dict
        Config ``sky.cosmology``.
    lmax : int
        Highest multipole (config ``sky.cmb.lmax``).
    spectrum : path-like
        Output ECSV table ``ell, cl_tt``.
    """
    t0 = time.perf_counter()
    cl = cosmology_spectrum(cosmology, lmax)
    ell = np.arange(cl.size)
    table = Table({"ell": ell, "cl_tt": cl}, meta={"cosmology": dict(cosmology)})
    table["cl_tt"].unit = "uK2"
    table["cl_tt"].description = "lensed CMB TT C_ell (not D_ell), µK_CMB^2"
    with io.atomic_output(spectrum) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    d3000 = cl[3000] * 3000 * 3001 / (2 * np.pi) if cl.size > 3000 else float("nan")
    log.info(
        "CAMB lensed TT to lmax %d in %.1f s; D_3000 = %.2f uK^2", ell[-1], time.perf_counter() - t0, d3000
    )


def run_halos(
    *, footprint: dict, margin_deg: float, cosmology: dict, halo_model: dict, seed: int, halos
) -> None:
    """Halo light cone over the padded footprint, to Parquet.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    margin_deg : float
        Padding of the footprint (deg), config ``sky.margin_deg``.
    cosmology, halo_model : dict
        Config ``sky.cosmology`` and ``sky.halos`` (``y_scatter_ln``: the Y-M scatter,
        :func:`skyhunt.sky.halos.scatter_y`).
    seed : int
        Run seed.
    halos : path-like
        Output Parquet table (:data:`skyhunt.sky.halos.HALO_UNITS`; ``y5r500_mean_arcmin2``
        with Y-M scatter only).
    """
    box = Footprint.from_config(footprint)
    rng = components.component_rng(seed, "halos")
    y_scatter_rng = components.component_rng(seed, "halo_y_scatter")
    table = simulate_halos(cosmology, halo_model, box, margin_deg, rng, y_scatter_rng)
    log.info(
        "%d halos (M_vir >= %.2g M_sun) in the padded footprint, %d of them in the footprint",
        len(table),
        halo_model["m_vir_min"],
        table["in_footprint"].sum(),
    )
    if "y5r500_mean_arcmin2" in table.columns:
        ln_ratio = np.log(table["y5r500_arcmin2"] / table["y5r500_mean_arcmin2"])
        log.info(
            "Y-M scatter sigma_lnY = %g: realised ln(Y / Y_mean) has mean %.4f, std %.4f",
            halo_model["y_scatter_ln"],
            ln_ratio.mean(),
            ln_ratio.std(),
        )
    io.write_table(
        halos,
        {c: table[c].to_numpy() for c in table.columns},
        {c: HALO_UNITS[c] for c in table.columns},
        meta={"seed": seed, "footprint": footprint, "margin_deg": margin_deg},
    )


def run_sources(
    *, footprint: dict, margin_deg: float, point_sources: dict, bands: list, seed: int, halos, sources
) -> None:
    """Radio and infrared point-source catalogue, to Parquet (fluxes in mJy).

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    margin_deg : float
        Padding of the footprint (deg).
    point_sources : dict
        Config ``sky.point_sources``.
    bands : list of dict
        ``sky.bands`` entries with ``name``, ``freq_ghz`` (GHz) and ``ps_d3000_uk2`` (µK²).
    seed : int
        Run seed.
    halos : path-like
        Input halo table (radio sources in massive halos).
    sources : path-like
        Output Parquet table.
    """
    halo_table = read_halos(halos, ("halo_id", "ra", "dec", "m_vir"))
    padded = Footprint.from_config(footprint).padded(margin_deg)
    rng = components.component_rng(seed, "sources")
    cat = draw_sources(point_sources, bands, padded, halo_table, rng)
    log.info("%d point sources: %s", len(cat), cat["population"].value_counts().to_dict())
    io.write_table(
        sources,
        {c: cat[c].to_numpy() for c in cat.columns},
        source_units(bands),
        meta={"seed": seed},
    )


def run_cmb_map(
    *, footprint: dict, nside: int, bands: list, seed: int, spectrum, cmb: list, threads: int
) -> None:
    """CMB realisation (the same sky in all bands, each through its band's beam), one file per band.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution.
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``, ``beam_fwhm_arcmin`` in arcmin,
        ``beam_file``), in the order of ``cmb``.
    seed : int
        Run seed.
    spectrum : path-like
        Input ECSV spectrum of :func:`run_cmb_spectrum`.
    cmb : list of path-like
        Output maps, one per band (µK_CMB).
    threads : int
        Threads of the spherical-harmonic synthesis.
    """
    pixels = _footprint_pixels(footprint, nside)
    cl = read_cmb_spectrum(spectrum)
    t0 = time.perf_counter()
    maps = components.cmb_maps(cl, bands, nside, pixels, components.component_rng(seed, "cmb"), threads)
    log.info("synthesised CMB on %d pixels in %.1f s", pixels.size, time.perf_counter() - t0)
    for band, path in zip(bands, cmb, strict=True):
        write_band_map(path, pixels, maps[band["name"]], nside, band, "cmb")


def run_sz_maps(
    *,
    footprint: dict,
    nside: int,
    bands: list,
    truncation_r500: float,
    relativistic_tsz: bool,
    pressure_profile: str,
    tsz_scale: float,
    halos,
    tsz: list,
    ksz: list,
) -> None:
    """Thermal SZ per band and kinematic SZ from the halo table, each through its band's beam.

    The thermal SZ spectrum is the non-relativistic f(x) (DeepSZ), or with
    ``relativistic_tsz`` that of each halo's gas temperature (Itoh et al. 1998,
    :func:`skyhunt.sky.sz.relativistic_tsz_map`).

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution.
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``, ``beam_fwhm_arcmin`` in arcmin,
        ``beam_file``), in the order of ``tsz`` and ``ksz``.
    truncation_r500 : float
        Profile truncation radius in units of R500 (config ``sky.halos.truncation_r500``).
    relativistic_tsz : bool
        Config ``sky.halos.relativistic_tsz``.
    pressure_profile : str
        Config ``sky.halos.pressure_profile``: ``arnaud10``, or ``battaglia12`` (each halo's
        shape read from the table).
    tsz_scale : float
        Config ``sky.halos.tsz_scale``: factor on the thermal SZ maps (not on the kSZ).
    halos : path-like
        Input halo table.
    tsz, ksz : list of path-like
        Output maps, one per band (µK_CMB).
    """
    pixels = _footprint_pixels(footprint, nside)
    shape = ("profile_xc_r500", "profile_beta") if pressure_profile == "battaglia12" else ()
    table = read_halos(halos, HALO_SZ_COLUMNS + shape)
    maps = sz_band_maps(table, nside, pixels, bands, truncation_r500, relativistic_tsz, tsz_scale)
    for band, tpath, kpath in zip(bands, tsz, ksz, strict=True):
        tsz_values, ksz_values = maps[band["name"]]
        write_band_map(tpath, pixels, tsz_values, nside, band, "tsz")
        write_band_map(kpath, pixels, ksz_values, nside, band, "ksz")


def sz_band_maps(
    table,
    nside: int,
    pixels: np.ndarray,
    bands: list,
    truncation_r500: float,
    relativistic_tsz: bool,
    tsz_scale: float = 1.0,
) -> dict:
    """Thermal and kinematic SZ of a halo table in every band, each through its band's beam, µK_CMB.

    The sky's one SZ painting (:func:`skyhunt.sky.sz.paint_y_and_tau_v`, once per distinct
    beam), used by :func:`run_sz_maps` and by the injected clusters of
    :mod:`skyhunt.selection.inject`.

    Parameters
    ----------
    table : pandas.DataFrame
        Halos with the columns of :data:`skyhunt.sky.readers.HALO_SZ_COLUMNS`.
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixels to paint.
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``, beam keys).
    truncation_r500 : float
        Profile truncation radius in units of R500.
    relativistic_tsz : bool
        Config ``sky.halos.relativistic_tsz``.
    tsz_scale : float
        Factor on the thermal SZ (config ``sky.halos.tsz_scale``; 0.75 in the Simons
        Observatory's processed Sehgal et al. 2010 maps); the kSZ is not scaled.

    Returns
    -------
    dict
        Band name to (tSZ, kSZ) values at ``pixels``, µK_CMB.
    """
    painted: dict[tuple, tuple] = {}
    out = {}
    for band in bands:
        key = beam_key(band)
        if key not in painted:
            t0 = time.perf_counter()
            moments = RELATIVISTIC_MOMENTS if relativistic_tsz else 0
            beam = beam_of(band)
            y, tau_v, y_theta = paint_y_and_tau_v(table, nside, pixels, truncation_r500, beam, moments)
            painted[key] = y, components.ksz_map(tau_v), y_theta
            log.info(
                "painted %d halos (band %s beam) in %.1f s; max y = %.3g",
                len(table),
                band["name"],
                time.perf_counter() - t0,
                y.max(),
            )
        y, ksz_values, y_theta = painted[key]
        if relativistic_tsz:
            tsz_values = relativistic_tsz_map(y, y_theta, band["freq_ghz"])
        else:
            tsz_values = components.tsz_map(y, band["freq_ghz"])
        if tsz_scale != 1.0:
            tsz_values = tsz_values * tsz_scale
        out[band["name"]] = tsz_values, ksz_values
    return out


def run_source_maps(*, footprint: dict, nside: int, bands: list, sources, ir: list, radio: list) -> None:
    """Infrared and radio point-source maps per band from the source catalogue.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution.
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``, ``beam_fwhm_arcmin`` in arcmin,
        ``beam_file``), in the order of ``ir`` and ``radio``.
    sources : path-like
        Input source catalogue (fluxes in mJy).
    ir, radio : list of path-like
        Output maps, one per band (µK_CMB).
    """
    pixels = _footprint_pixels(footprint, nside)
    cat = read_sources(sources, source_flux_columns(bands))
    for band, ipath, rpath in zip(bands, ir, radio, strict=True):
        for population, path in (("ir", ipath), ("radio", rpath)):
            values = paint_sources(cat, population, band, nside, pixels)
            write_band_map(path, pixels, values, nside, band, population)


def run_dust_map(
    *, footprint: dict, nside: int, bands: list, dust_model: dict, seed: int, dust: list, threads: int
) -> None:
    """Galactic dust per band (modified blackbody scaling of one Gaussian field).

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution.
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``, ``beam_fwhm_arcmin`` in arcmin,
        ``beam_file``), in the order of ``dust``.
    dust_model : dict
        Config ``sky.dust``.
    seed : int
        Run seed.
    dust : list of path-like
        Output maps, one per band (µK_CMB).
    threads : int
        Threads of the spherical-harmonic synthesis.
    """
    pixels = _footprint_pixels(footprint, nside)
    maps = components.dust_maps(
        dust_model, bands, nside, pixels, components.component_rng(seed, "dust"), threads
    )
    for band, path in zip(bands, dust, strict=True):
        write_band_map(path, pixels, maps[band["name"]], nside, band, "dust")


def run_noise_map(
    *,
    footprint: dict,
    nside: int,
    band: dict,
    seed: int,
    noise,
    band_names: list | None = None,
    red_noise: dict | None = None,
    ivar: list = (),
    threads: int = 1,
) -> None:
    """Instrument noise for one band: white, plus red (atmospheric) noise and a depth map if configured.

    noise(p) = s(p) [sigma_pix n(p) + r(p)]: n is unit white noise from the band's stream
    ``noise_<band>`` (as in DeepSZ), r the red field of
    :func:`skyhunt.sky.components.red_noise_map` (bands with ``ell_knee`` > 0), and
    s(p) = 1 / (sigma_pix sqrt(ivar(p))) the depth: the white part has variance 1 / ivar(p),
    and the red part scales with it, as both average down with the time spent on a
    pixel (the atmosphere is independent between the many scans that make a pixel).
    Without red noise and depth maps the map is the white noise alone, bit for bit.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution.
    band : dict
        The band's ``sky.bands`` entry (``name``, ``freq_ghz``, ``noise_uk_arcmin`` in µK-arcmin;
        ``ell_knee`` and ``alpha_knee`` for red noise).
    seed : int
        Run seed (each band draws from its own streams).
    noise : path-like
        Output map (µK_CMB).
    band_names : list of str, optional
        Names of every band of ``sky.bands`` in order (needed for red noise: the band
        correlation mixes the fields of the bands before this one).
    red_noise : dict, optional
        Config ``sky.noise`` keys ``red_correlation``, ``red_ell_min``, ``red_cut_fraction``
        (needed for red noise).
    ivar : list of path-like
        The band's inverse-variance map (:func:`skyhunt.sky.depth.run_depth_map`), or empty
        for the uniform depth of ``noise_uk_arcmin``.
    threads : int
        Threads of the red-noise synthesis.
    """
    pixels = _footprint_pixels(footprint, nside)
    rng = components.component_rng(seed, f"noise_{band['name']}")
    values = components.noise_map(band["noise_uk_arcmin"], nside, pixels.size, rng)
    if has_red_noise(band):
        if red_noise is None or band_names is None:
            raise ValueError(f"band {band['name']} has red noise (ell_knee) but no band_names and red_noise")
        t0 = time.perf_counter()
        red = components.red_noise_map(band, band_names, red_noise, nside, pixels, seed, threads)
        log.info(
            "red noise (ell_knee %g, alpha %g) to lmax %d in %.1f s: rms %.3g uK, white rms %.3g uK",
            band["ell_knee"],
            band["alpha_knee"],
            red_lmax(band, red_noise, nside),
            time.perf_counter() - t0,
            red.std(),
            values.std(),
        )
        values = values + red
    if ivar:
        ivar_pixels, ivar_values = read_ivar_maps(ivar, nside)
        if not np.array_equal(ivar_pixels, pixels):
            raise io.InputFileError(f"inverse-variance map {ivar[0]} does not cover the footprint's pixels")
        sigma = components.white_noise_sigma_uk(band["noise_uk_arcmin"], nside)
        values = values / (sigma * np.sqrt(ivar_values[:, 0].astype(np.float64)))
    write_band_map(noise, pixels, values, nside, band, "noise")


def run_observed_map(
    *, nside: int, band: dict, stage: str, maps: list, observed, scan_filter: dict | None = None
) -> None:
    """Observed map of one noise stage and band: the sum of the sky components plus noise, scan-filtered.

    The components are already seen through the band's beam (each made so by
    the rule that makes it, docs/design.md "Beams"); noise is not beamed. The
    scan filter, when on, acts on the sum, as map-making acts on the data.

    Parameters
    ----------
    nside : int
        HEALPix resolution.
    band : dict
        The band's ``sky.bands`` entry (``name``, ``freq_ghz``).
    stage : str
        Noise stage (header ``COMPNT``).
    maps : list of path-like
        The stage's component maps, with the noise map last.
    observed : path-like
        Output map (µK_CMB).
    scan_filter : dict, optional
        Config ``sky.scan_filter`` (:func:`skyhunt.sky.scan.filter_scans`), applied to the sum;
        None when the filter is off.
    """
    pixels, values = io.read_partial_maps(maps, nside=nside)
    total = values[:, :-1].sum(axis=1, dtype=np.float64)
    total += values[:, -1]
    if scan_filter is not None:
        total = filter_scans(nside, pixels, total, scan_filter)
        log.info("scan-filtered: %s", scan_filter)
    write_band_map(observed, pixels, total, nside, band, stage)
