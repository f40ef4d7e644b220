"""Sky components in µK_CMB on the footprint's pixels, and their sum per noise stage.

The components and the cumulative noise ladder follow DeepSZ (Lin et al.
2021, section 1.2): CMB + tSZ, then kSZ, infrared galaxies, radio galaxies
and Galactic dust, with instrument noise in every stage: white (DeepSZ), with
optional red (atmospheric) noise correlated between bands and a depth map
(:mod:`skyhunt.sky.instrument`).
"""

from __future__ import annotations

import zlib

import numpy as np

from skyhunt.sky import spectra
from skyhunt.sky.beam import beam_key, beamed_alm
from skyhunt.sky.gaussian_field import draw_alm, draw_unit_alm, synthesize_on_pixels
from skyhunt.sky.instrument import (
    has_red_noise,
    red_correlation_matrix,
    red_lmax,
    red_noise_cl,
    white_noise_sigma_uk,
)

_T_CMB_UK = spectra.T_CMB_K * 1e6


def component_rng(seed: int, name: str) -> np.random.Generator:
    """Independent random stream for one component (or table) from the global seed.

    Streams depend only on ``seed`` and ``name``, so a component's realisation
    does not change when other components are added, removed or reordered.
    """
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def beamed_syntheses(alm: np.ndarray, bands: list[dict], nside: int, pixels, nthreads: int = 1) -> dict:
    """One field seen through each band's beam: a_lm b_ell synthesised at ``pixels``.

    Bands with the same beam (:func:`skyhunt.sky.beam.beam_key`) share one
    synthesis (one in all for the default, no beam, which is exactly the
    unbeamed field).

    Returns
    -------
    dict
        Band name -> field at ``pixels`` (units of ``alm``).
    """
    by_beam: dict[tuple, np.ndarray] = {}
    out = {}
    for band in bands:
        key = beam_key(band)
        if key not in by_beam:
            by_beam[key] = synthesize_on_pixels(beamed_alm(alm, band), nside, pixels, nthreads=nthreads)
        out[band["name"]] = by_beam[key]
    return out


def cmb_maps(cl_uk2: np.ndarray, bands: list[dict], nside: int, pixels, rng, nthreads: int = 1) -> dict:
    """Lensed CMB temperature in µK_CMB at ``pixels``: one realisation, through each band's beam.

    Returns
    -------
    dict
        Band name -> map; bands with the same beam share one array.
    """
    return beamed_syntheses(draw_alm(cl_uk2, rng), bands, nside, pixels, nthreads)


def dust_spectrum(dust_cfg: dict) -> np.ndarray:
    """Power-law Galactic dust C_ell at the dust reference frequency, µK_CMB^2.

    C_ell = C_ref (ell / ell_ref)^slope for ell >= 2, with C_ref set by
    ``d_ell_ref_uk2`` = ell_ref (ell_ref + 1) C_ref / 2 pi.
    """
    ell = np.arange(dust_cfg["lmax"] + 1, dtype=float)
    ell_ref = float(dust_cfg["ell_ref"])
    c_ref = dust_cfg["d_ell_ref_uk2"] * 2.0 * np.pi / (ell_ref * (ell_ref + 1.0))
    cl = np.zeros_like(ell)
    cl[2:] = c_ref * (ell[2:] / ell_ref) ** dust_cfg["ell_slope"]
    return cl


def dust_maps(dust_cfg: dict, bands: list[dict], nside: int, pixels, rng, nthreads: int = 1) -> dict:
    """Galactic dust: one Gaussian field scaled to each band as a modified blackbody, through its beam.

    Returns
    -------
    dict
        Band name -> map in µK_CMB at ``pixels``.
    """
    templates = beamed_syntheses(draw_alm(dust_spectrum(dust_cfg), rng), bands, nside, pixels, nthreads)
    return {
        b["name"]: templates[b["name"]]
        * float(
            spectra.modified_blackbody_uk_ratio(
                b["freq_ghz"], dust_cfg["ref_freq_ghz"], dust_cfg["beta"], dust_cfg["t_dust_k"]
            )
        )
        for b in bands
    }


def tsz_map(y: np.ndarray, freq_ghz: float) -> np.ndarray:
    """Thermal SZ temperature in µK_CMB from a Compton-y map: T_CMB f(x) y."""
    return _T_CMB_UK * float(spectra.tsz_spectrum(freq_ghz)) * y


def ksz_map(tau_v: np.ndarray) -> np.ndarray:
    """Kinematic SZ temperature in µK_CMB from tau v_los / c: -T_CMB tau v / c."""
    return -_T_CMB_UK * tau_v


def noise_map(noise_uk_arcmin: float, nside: int, npix: int, rng) -> np.ndarray:
    """White instrument noise in µK_CMB on ``npix`` pixels."""
    return rng.standard_normal(npix) * white_noise_sigma_uk(noise_uk_arcmin, nside)


def red_noise_map(
    band: dict,
    band_names: list[str],
    red_cfg: dict,
    nside: int,
    pixels: np.ndarray,
    seed: int,
    nthreads: int = 1,
) -> np.ndarray:
    """Red (atmospheric) noise of one band in µK_CMB at ``pixels``, correlated between bands.

    The bands' red fields are a_b = sqrt(N_red,b) sum_{c <= b} L_bc g_c, with g_c unit-spectrum
    coefficients from the stream ``noise_red_<band c>`` and L the (lower) Cholesky factor of
    :func:`skyhunt.sky.instrument.red_correlation_matrix` over all bands in config order,
    so <a_b a_b'*> = rho sqrt(N_red,b N_red,b'). The g_c are nested in lmax
    (:func:`skyhunt.sky.gaussian_field.draw_unit_alm`), so each band is made by its own
    job, to its own :func:`skyhunt.sky.instrument.red_lmax`, and still shares the other
    bands' fields exactly: one job per band keeps the bands' synthesis (the cost) in
    parallel, and band b's map depends only on the seed, the names of bands 0..b,
    their correlation and its own spectrum. The field is sampled at pixel centres (no
    pixel window) and not beamed.

    Parameters
    ----------
    band : dict
        The band's ``sky.bands`` entry (``name``, ``noise_uk_arcmin``, ``ell_knee``, ``alpha_knee``).
    band_names : list of str
        Every band's name, in config order (``band`` among them).
    red_cfg : dict
        ``sky.noise`` (``red_correlation``, ``red_correlation_groups``, ``red_ell_min``,
        ``red_cut_fraction``).
    nside : int
    pixels : ndarray of int
        Sorted RING pixels.
    seed : int
        Run seed.
    nthreads : int
        Threads of the synthesis.

    Returns
    -------
    ndarray of float64
    """
    import healpy as hp

    if not has_red_noise(band):
        return np.zeros(pixels.size)
    index = band_names.index(band["name"])
    lmax = red_lmax(band, red_cfg, nside)
    chol = np.linalg.cholesky(red_correlation_matrix(band_names, red_cfg))
    alm = np.zeros(hp.Alm.getsize(lmax), dtype=np.complex128)
    for c in range(index + 1):
        alm += chol[index, c] * draw_unit_alm(lmax, component_rng(seed, f"noise_red_{band_names[c]}"))
    cl = red_noise_cl(np.arange(lmax + 1), band, red_cfg, nside)
    return synthesize_on_pixels(hp.almxfl(alm, np.sqrt(cl)), nside, pixels, nthreads=nthreads)
