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
derivative), so a subtracted source leaves no residual beyond float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.sky.sources import POPULATIONS, flux_column, paint_sources


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

    Returns
    -------
    ndarray
        ``maps``.
    """
    pops = [p for p in POPULATIONS if p in populations]
    if not pops or sources.empty:
        return maps
    for b, band in enumerate(bands):
        model = sum(paint_sources(sources, p, band, nside, pixels) for p in pops)
        maps[:, b] -= model.astype(np.float32)
    return maps
