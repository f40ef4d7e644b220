"""The mass limit: M500c at a completeness level (90 %) at one redshift, over the footprint.

The footprint-wide limit M_lim is where the injection completeness in the redshift bin holding
``z_ref`` crosses the level (linear interpolation in log M500c between bin centres). Across the
footprint it follows the local noise, as nemo's mass-limit maps follow its noise map (Hilton et
al. 2021, section 4.1): in a tile of the matched filter with noise sigma (the fixed-scale
filter's central-y noise, y0_fixed / snr_fixed of its candidates) the SNR of a cluster scales as
M^a / sigma, so M_lim(tile) = M_lim (sigma / sigma_ref)^(1/a), sigma_ref the median noise at the
injections and a the slope of ln SNR against ln M500c of the recovered injections (least
squares, all redshifts). With uniform depth the map is flat up to the filter's
declination dependence; with depth maps it follows them.
"""

from __future__ import annotations

import healpy as hp
import numpy as np


def z_row(z_edges: np.ndarray, z_ref: float) -> int:
    """Index of the redshift bin holding ``z_ref``.

    Raises
    ------
    ValueError
        When ``z_ref`` is outside the grid.
    """
    if not z_edges[0] <= z_ref < z_edges[-1]:
        raise ValueError(f"selection.mass_limit.z {z_ref} is outside the redshift grid {list(z_edges)}")
    return int(np.searchsorted(z_edges, z_ref, side="right") - 1)


def mass_at_level(m500c_edges: np.ndarray, completeness: np.ndarray, level: float) -> float:
    """M500c (M_sun) where ``completeness`` (one row, per M500c bin) first rises to ``level``.

    Linear in log M500c between the geometric bin centres; the lowest centre if the first bin is
    already complete enough; NaN if no bin reaches the level (bins without clusters are skipped).
    """
    centres = np.log10(np.sqrt(m500c_edges[:-1] * m500c_edges[1:]))
    ok = np.isfinite(completeness)
    x, p = centres[ok], np.asarray(completeness)[ok]
    above = np.flatnonzero(p >= level)
    if above.size == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(10.0 ** x[0])
    t = (level - p[i - 1]) / (p[i] - p[i - 1])
    return float(10.0 ** (x[i - 1] + t * (x[i] - x[i - 1])))


def snr_slope(m500c: np.ndarray, snr: np.ndarray) -> float:
    """Least-squares slope of ln SNR against ln M500c (dimensionless).

    Raises
    ------
    ValueError
        With fewer than three clusters or one mass.
    """
    m500c, snr = np.asarray(m500c, float), np.asarray(snr, float)
    if m500c.size < 3 or np.ptp(np.log(m500c)) == 0:
        raise ValueError(f"the SNR-mass slope needs at least 3 recovered injections, got {m500c.size}")
    return float(np.polyfit(np.log(m500c), np.log(snr), 1)[0])


def tile_noise(tiles: np.ndarray, candidate_tile: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Median candidate noise of each tile (NaN for a tile without candidates)."""
    return np.array(
        [np.median(sigma[candidate_tile == t]) if np.any(candidate_tile == t) else np.nan for t in tiles]
    )


def tile_limits(m_limit: float, sigma_tile: np.ndarray, sigma_ref: float, slope: float) -> np.ndarray:
    """M_lim (sigma / sigma_ref)^(1 / slope) per tile, M_sun."""
    return m_limit * (np.asarray(sigma_tile, float) / sigma_ref) ** (1.0 / slope)


def healpix_map(nside: int, core_index, limits: np.ndarray) -> np.ndarray:
    """The per-tile limits on a RING HEALPix map: each pixel takes the tile whose core holds its centre.

    Parameters
    ----------
    nside : int
        Resolution of the map (config ``selection.mass_limit.nside``).
    core_index : callable
        ``(ra, dec) -> tile index`` (degrees; -1 outside the footprint), as
        :meth:`skyhunt.mf.tiles.TileLayout.core_index`.
    limits : ndarray
        M500c limit of each tile (M_sun; NaN: none).

    Returns
    -------
    ndarray, shape (12 nside^2,)
        M500c (M_sun); ``healpy.UNSEEN`` outside the footprint and where a tile has no limit.
    """
    ra, dec = hp.pix2ang(nside, np.arange(hp.nside2npix(nside)), lonlat=True)
    tile = core_index(ra, dec)
    out = np.full(ra.size, hp.UNSEEN)
    inside = tile >= 0
    values = np.asarray(limits, dtype=float)[tile[inside]]
    out[inside] = np.where(np.isfinite(values), values, hp.UNSEEN)
    return out
