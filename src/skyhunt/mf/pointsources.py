"""Bright point sources before matched filtering: subtraction (DeepSZ section 2.1) or masking.

DeepSZ subtracts, instead of masking, the sources brighter than 2 mJy,
"consistent with the projections for finding clusters using the SPT-3G
receiver". A source counts as bright when its flux exceeds the threshold in
*any* band (at the default 2 mJy that is mostly the 219 GHz band, where
dusty galaxies are brightest), and it is then removed from *every* band.
Subtraction uses the catalogue and the instrument response exactly as the
sources were painted (:func:`skyhunt.sky.sources.paint_sources`: the flux in
the HEALPix pixel holding the source, or spread as the band's beam profile
when the band has a beam, converted to µK_CMB with the exact Planck
derivative), then scan-filtered when the maps are
(:func:`skyhunt.sky.scan.filter_scans`), so a subtracted source leaves no
residual beyond float32 rounding.

The matched filter's noise model then holds only the sources left in the
maps (:func:`shot_noise_spectrum` of the residual catalogue), not the
population's total power: at the default 2 mJy cut that is 1.25/3.88/31.0
µK² instead of 2.7/8.8/71 µK² (D_3000 at 90/148/219 GHz).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.sky.footprint import Footprint
from skyhunt.sky.scan import filter_scans
from skyhunt.sky.sources import ELL_REF, flux_column, paint_fluxes, uk_sr_per_mjy

_SR_PER_DEG2 = np.radians(1.0) ** 2


def bright_sources(catalogue: pd.DataFrame, bands: list[dict], flux_min_mjy: float) -> pd.DataFrame:
    """Sources whose flux exceeds ``flux_min_mjy`` (mJy) in at least one band."""
    fluxes = np.column_stack([catalogue[flux_column(b)].to_numpy() for b in bands])
    return catalogue.loc[np.any(fluxes > flux_min_mjy, axis=1)]


def subtract_sources(
    maps: np.ndarray,
    pixels: np.ndarray,
    nside: int,
    sources: pd.DataFrame,
    bands: list[dict],
    populations: list[str],
    scan_filter: dict | None = None,
) -> np.ndarray:
    """Subtract the given sources from partial maps, in place.

    Parameters
    ----------
    maps : ndarray, shape (npix, n_bands), float32
        Observed maps in µK_CMB, columns in ``bands`` order.
    pixels : ndarray of int
        Their RING pixels.
    nside : int
    sources : pandas.DataFrame
        The sources to remove (catalogue rows).
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``, ``beam_fwhm_arcmin``, ``beam_file``).
    populations : list of str
        Populations present in the maps (only those are subtracted: a stage
        without radio sources must not have them removed).
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when the maps are scan-filtered (the model is filtered alike).

    Returns
    -------
    ndarray
        ``maps``.
    """
    chosen = sources.loc[sources["population"].isin(populations)]
    fluxes = np.column_stack([chosen[flux_column(b)].to_numpy() for b in bands])
    return subtract_fluxes(
        maps, pixels, nside, chosen["ra"].to_numpy(), chosen["dec"].to_numpy(), fluxes, bands, scan_filter
    )


def subtract_fluxes(
    maps: np.ndarray,
    pixels: np.ndarray,
    nside: int,
    ra: np.ndarray,
    dec: np.ndarray,
    fluxes: np.ndarray,
    bands: list[dict],
    scan_filter: dict | None = None,
) -> np.ndarray:
    """Subtract point sources of given fluxes from partial maps, in place.

    Each band's sources are painted as :func:`skyhunt.sky.sources.paint_fluxes`
    paints them (the flux in the HEALPix pixel holding the position, or spread
    as the band's beam), then scan-filtered as the maps were when
    ``scan_filter`` is given.

    Parameters
    ----------
    maps : ndarray, shape (npix, n_bands), float32
        Observed maps in µK_CMB, columns in ``bands`` order.
    pixels : ndarray of int
        Their RING pixels.
    nside : int
    ra, dec : ndarray, shape (n,)
        Source positions, degrees.
    fluxes : ndarray, shape (n, n_bands)
        Fluxes to remove, mJy (0 leaves a band untouched).
    bands : list of dict
        ``sky.bands`` entries (``freq_ghz``, ``beam_fwhm_arcmin``, ``beam_file``).
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when the maps are scan-filtered.

    Returns
    -------
    ndarray
        ``maps``.
    """
    if len(ra) == 0:
        return maps
    for b, band in enumerate(bands):
        model = paint_fluxes(ra, dec, fluxes[:, b], band, nside, pixels)
        if scan_filter is not None:
            model = filter_scans(nside, pixels, model, scan_filter)
        maps[:, b] -= model.astype(np.float32)
    return maps


def shot_noise_spectrum(sources: pd.DataFrame, bands: list[dict], footprint: Footprint) -> np.ndarray:
    """Poisson (shot-noise) cross-spectrum between bands of the sources on a footprint.

    ``C_bb' = sum_i T_ib T_ib' / Omega`` over the sources inside the footprint
    of solid angle Omega, with ``T_ib = S_ib dT/dS_b`` the integrated
    temperature of source i in band b (µK_CMB sr; the conversion of
    :func:`skyhunt.sky.sources.paint_sources`). A realised, not an expected,
    power: it is what the painted sources put into the maps' power spectrum
    (white, flat in C_ell), band correlation included.

    Parameters
    ----------
    sources : pandas.DataFrame
        Catalogue rows (``ra``, ``dec`` in deg, ``flux_<band>_mjy``).
    bands : list of dict
        ``sky.bands`` entries.
    footprint : Footprint
        The maps' footprint.

    Returns
    -------
    ndarray, shape (n_bands, n_bands)
        C_ell in µK_CMB^2 sr.
    """
    inside = footprint.contains(sources["ra"].to_numpy(), sources["dec"].to_numpy())
    to_uk = uk_sr_per_mjy([b["freq_ghz"] for b in bands])
    t = np.column_stack([sources[flux_column(b)].to_numpy()[inside] for b in bands]) * to_uk
    return t.T @ t / (footprint.area_deg2 * _SR_PER_DEG2)


def d3000(cl: np.ndarray) -> np.ndarray:
    """``D_3000 = 3000 * 3001 C / (2 pi)`` of a white spectrum C (µK^2 sr), µK^2."""
    return ELL_REF * (ELL_REF + 1.0) / (2.0 * np.pi) * np.asarray(cl)
