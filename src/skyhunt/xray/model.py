"""The X-ray sky's model: cluster luminosities (L_X-M with scatter), beta models and AGN fluxes.

* **L_X-M**: the 0.5-2 keV luminosity within R500 of Bulbul et al. (2019, SPT-SZ clusters with
  XMM-Newton, core-included; their eq. 1 form), L_X = A (M500c/M_piv)^B (E(z)/E(z_piv))^2
  ((1+z)/(1+z_piv))^gamma, with log-normal intrinsic scatter sigma_ln (stream
  ``xray_lx_scatter``, one draw per halo in halo order, so cutouts never change it). The
  flux is L_X / (4 pi D_L^2) (no K-correction: the rest-frame band is taken as the observed one).
* **Counts**: flux x ECF x exposure, the ECF (counts s^-1 per erg s^-1 cm^-2) an eROSITA-like
  0.5-2 keV conversion for cluster spectra; exposure uniform (eRASS1-like, ~200 s).
* **Surface brightness**: the isothermal beta model S(theta) ~ (1 + (theta/theta_c)^2)^(1/2 - 3 beta)
  (Cavaliere & Fusco-Femiano 1976), theta_c = ``core_r500`` theta500, cut at ``trunc_r500``
  theta500 and normalised so that the counts within theta500 are the L_X-derived ones. It is
  a Moffat profile of index 3 beta - 1/2, which GalSim draws exactly.
* **AGN**: every radio source of the sky's source catalogue is an X-ray point source of flux
  ``flux_per_mjy`` x its flux in the lowest-frequency band, times 10^(``sigma_dex`` N(0, 1))
  (stream ``xray_agn``, one draw per source in catalogue order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.sky.cosmology import colossus

_CM_PER_MPC = 3.0856775814913673e24


def luminosity_erg_s(m500c, z, lx_cfg: dict, cosmo_cfg: dict) -> np.ndarray:
    """Mean 0.5-2 keV L_X within R500 (erg/s) at M500c (M_sun) and z (Bulbul et al. 2019 form)."""
    cosmo = colossus(cosmo_cfg)
    z = np.asarray(z, dtype=float)
    ez = cosmo.Ez(z) / cosmo.Ez(lx_cfg["z_pivot"])
    return (
        lx_cfg["norm_erg_s"]
        * (np.asarray(m500c, dtype=float) / lx_cfg["m_pivot"]) ** lx_cfg["slope"]
        * ez**2
        * ((1.0 + z) / (1.0 + lx_cfg["z_pivot"])) ** lx_cfg["gamma_z"]
    )


def flux_erg_s_cm2(luminosity, z, cosmo_cfg: dict) -> np.ndarray:
    """Flux L / (4 pi D_L^2), erg s^-1 cm^-2, D_L of the sky's cosmology."""
    cosmo = colossus(cosmo_cfg)
    d_l = cosmo.luminosityDistance(np.maximum(np.asarray(z, dtype=float), 1e-4)) / (cosmo.H0 / 100.0)
    return np.asarray(luminosity) / (4.0 * np.pi * (d_l * _CM_PER_MPC) ** 2)


def enclosed_fraction(x, beta: float) -> np.ndarray:
    """Fraction of a projected beta model within theta/theta_c = x (untruncated; beta > 1/2)."""
    return 1.0 - (1.0 + np.asarray(x, dtype=float) ** 2) ** (1.5 - 3.0 * beta)


def halo_counts(
    halos: pd.DataFrame, xray_cfg: dict, cosmo_cfg: dict, rng: np.random.Generator
) -> pd.DataFrame:
    """Expected 0.5-2 keV counts of every halo, within R500 and in its whole (truncated) beta model.

    Parameters
    ----------
    halos : DataFrame
        halo_id, ra, dec (deg), z, m500c (M_sun), theta500_arcmin, in halo order.
    xray_cfg : dict
        Config ``xray``.
    rng : numpy.random.Generator
        The stream ``xray_lx_scatter``.

    Returns
    -------
    DataFrame
        halo_id, ra, dec, lx_erg_s (realised), flux_erg_s_cm2, counts_r500, counts_total,
        theta_c_arcmin, trunc_arcmin.
    """
    lx_cfg = xray_cfg["lx_m"]
    z = halos["z"].to_numpy(float)
    lx = luminosity_erg_s(halos["m500c"].to_numpy(float), z, lx_cfg, cosmo_cfg)
    lx = lx * np.exp(lx_cfg["sigma_ln"] * rng.standard_normal(len(z)))
    flux = flux_erg_s_cm2(lx, z, cosmo_cfg)
    counts_r500 = flux * xray_cfg["ecf"] * xray_cfg["exposure_s"]
    beta_cfg = xray_cfg["beta_model"]
    x500 = 1.0 / beta_cfg["core_r500"]
    xt = beta_cfg["trunc_r500"] / beta_cfg["core_r500"]
    scale = enclosed_fraction(xt, beta_cfg["beta"]) / enclosed_fraction(x500, beta_cfg["beta"])
    theta500 = halos["theta500_arcmin"].to_numpy(float)
    return pd.DataFrame(
        {
            "halo_id": halos["halo_id"].to_numpy(np.int64),
            "ra": halos["ra"].to_numpy(float),
            "dec": halos["dec"].to_numpy(float),
            "lx_erg_s": lx,
            "flux_erg_s_cm2": flux,
            "counts_r500": counts_r500,
            "counts_total": counts_r500 * scale,
            "theta_c_arcmin": beta_cfg["core_r500"] * theta500,
            "trunc_arcmin": beta_cfg["trunc_r500"] * theta500,
        }
    )


def agn_counts(
    sources: pd.DataFrame, flux_column: str, xray_cfg: dict, rng: np.random.Generator
) -> pd.DataFrame:
    """Expected counts of the X-ray AGN: the radio sources (one scatter draw per source, stream ``xray_agn``).

    Returns
    -------
    DataFrame
        source_id, ra, dec, flux_erg_s_cm2, counts (radio sources only).
    """
    agn = xray_cfg["agn"]
    scatter = 10.0 ** (agn["sigma_dex"] * rng.standard_normal(len(sources)))
    radio = sources["population"].to_numpy() == "radio"
    flux = agn["flux_per_mjy"] * sources[flux_column].to_numpy(float) * scatter
    return pd.DataFrame(
        {
            "source_id": sources["source_id"].to_numpy(np.int64)[radio],
            "ra": sources["ra"].to_numpy(float)[radio],
            "dec": sources["dec"].to_numpy(float)[radio],
            "flux_erg_s_cm2": flux[radio],
            "counts": flux[radio] * xray_cfg["ecf"] * xray_cfg["exposure_s"],
        }
    )
