"""Small files in the formats of the Sehgal et al. (2010) LAMBDA release, with known truth."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import healpy as hp
import numpy as np

from skyhunt.sky.imported import SEHGAL_HALO_COLUMNS

#: (skyhunt component, Sehgal file component, rms in µK_CMB) of the fixture maps.
FIXTURE_COMPONENTS = (
    ("cmb", "lensedcmb", 100.0),
    ("tsz", "tsz", 20.0),
    ("ksz", "ksz", 5.0),
    ("ir", "ir_pts", 8.0),
    ("radio", "rad_pts", 3.0),
    ("dust", "dust", 2.0),
)


def uk_to_jy_per_sr(freq_ghz: float) -> float:
    """Jy/sr per µK_CMB from astropy's equivalency: an independent route to the conversion under test."""
    eq = u.thermodynamic_temperature(freq_ghz * u.GHz, T_cmb=2.7255 * u.K)
    return float((1.0 * u.uK).to(u.Jy / u.sr, equivalencies=eq).value)


def write_sehgal_maps(root: Path, nside: int, bands: dict[str, float], seed: int = 11) -> dict:
    """Full-sky RING maps ``<band>_<component>_healpix.fits`` in Jy/sr (float32, 1024 values per row).

    Returns
    -------
    dict
        (component, band name) -> the map in µK_CMB (float64) the file encodes.
    """
    rng = np.random.default_rng(seed)
    truth = {}
    for comp, file_comp, rms in FIXTURE_COMPONENTS:
        for band, freq in bands.items():
            uk = rng.normal(0.0, rms, hp.nside2npix(nside)).astype(np.float32)
            jy = (uk * uk_to_jy_per_sr(freq)).astype(np.float32)
            hp.write_map(
                root / f"{band}_{file_comp}_healpix.fits", jy, dtype=np.float32, column_units="Jy/sr"
            )
            truth[(comp, band)] = jy.astype(np.float64) / uk_to_jy_per_sr(freq)
    return truth


def sehgal_halo_rows(ra, dec, z, m_vir, m500c=None, v=(0.0, 0.0, 0.0), dist_mpc=1000.0) -> np.ndarray:
    """Rows of ``halo_nbody.ascii`` (20 columns) for halos at (ra, dec) with a peculiar velocity ``v``."""
    ra, dec = np.atleast_1d(ra).astype(float), np.atleast_1d(dec).astype(float)
    n = ra.size
    rows = np.zeros((n, len(SEHGAL_HALO_COLUMNS)))
    col = {name: i for i, name in enumerate(SEHGAL_HALO_COLUMNS)}
    pos = dist_mpc * np.atleast_2d(hp.ang2vec(ra, dec, lonlat=True))
    rows[:, col["z"]] = z
    rows[:, col["ra"]] = ra
    rows[:, col["dec"]] = dec
    rows[:, [col["x_mpc"], col["y_mpc"], col["z_mpc"]]] = pos
    rows[:, [col["vx_km_s"], col["vy_km_s"], col["vz_km_s"]]] = np.broadcast_to(v, (n, 3))
    rows[:, col["m_fof"]] = m_vir
    rows[:, col["m_vir"]] = m_vir
    rows[:, col["r_vir"]] = 1.5
    rows[:, col["m200c"]] = np.asarray(m_vir) * 0.8
    rows[:, col["m500c"]] = np.asarray(m_vir) * 0.55 if m500c is None else m500c
    return rows


def write_ascii(path: Path, rows: np.ndarray) -> None:
    np.savetxt(path, rows, fmt="%.6e")
