"""Arnaud et al. (2010) universal pressure profile, projected to Compton-y.

The profile is tabulated once in dimensionless form, Pi(X) = y / y_0 with
X = theta / theta500, and scaled per halo; painting then costs one table
look-up per pixel. Thermal SZ follows DeepSZ (Lin et al. 2021, section 1.1:
the SZ signal of halos is the target, unresolved halos are noise).
"""

from __future__ import annotations

import functools

import numpy as np
from astropy import constants as const
from astropy import units as u
from scipy import integrate

# Arnaud et al. (2010) eq. 12 (GNFW shape) and eq. 13 (P500), h70 scalings applied below.
P0_H70 = 8.403
C500 = 1.177
GAMMA = 0.3081
ALPHA = 1.0510
BETA = 5.4905
ALPHA_P = 0.12
P500_NORM_KEV_CM3 = 1.65e-3
M_PIVOT_H70 = 3e14  # M_sun / h70
# Arnaud, Pointecouteau & Pratt (2005) M500-T relation (T > 3.5 keV sample)
MT_NORM_H70 = 3.84e14  # M_sun / h70 at 5 keV
MT_SLOPE = 1.71

#: sigma_T / (m_e c^2) in cm^2 / keV
SIGMA_T_OVER_MEC2 = (const.sigma_T / (const.m_e * const.c**2)).to(u.cm**2 / u.keV).value
#: m_e c^2 in keV
MEC2_KEV = (const.m_e * const.c**2).to(u.keV).value
_MPC_CM = u.Mpc.to(u.cm)
_ARCMIN2_PER_SR = (180.0 * 60.0 / np.pi) ** 2


def gnfw(x: np.ndarray) -> np.ndarray:
    """Dimensionless GNFW pressure p(x), x = r / R500, for h70 = 1."""
    cx = C500 * np.asarray(x, dtype=float)
    return P0_H70 / (cx**GAMMA * (1.0 + cx**ALPHA) ** ((BETA - GAMMA) / ALPHA))


@functools.lru_cache(maxsize=8)
def projected_table(truncation: float, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Line-of-sight integral of the GNFW profile truncated at ``truncation`` R500.

    Pi(X) = 2 int_0^sqrt(t^2 - X^2) p(sqrt(X^2 + l^2)) dl, in units of R500.

    Returns
    -------
    x : ndarray
        Projected radius in units of R500 (theta / theta500), from 0 to ``truncation``.
    pi : ndarray
        Pi(X), dimensionless.
    """
    x = np.concatenate([[0.0], np.geomspace(1e-4, truncation, n - 1)])
    pi = np.empty_like(x)
    for i, xi in enumerate(x):
        lmax = np.sqrt(max(truncation**2 - xi**2, 0.0))
        if xi == 0.0:
            # substitute l = s^2 to remove the integrable r^-gamma cusp at the centre
            val, _ = integrate.quad(lambda s: 2 * s * gnfw(s * s), 0.0, np.sqrt(lmax), limit=200)
        else:
            val, _ = integrate.quad(lambda ll, xi=xi: gnfw(np.hypot(xi, ll)), 0.0, lmax, limit=200)
        pi[i] = 2.0 * val
    return x, pi


@functools.lru_cache(maxsize=8)
def spherical_integral(truncation: float) -> float:
    """4 pi int_0^t p(x) x^2 dx: the profile's volume integral in units of R500^3."""
    val, _ = integrate.quad(lambda x: gnfw(x) * x * x, 0.0, truncation, limit=200)
    return 4.0 * np.pi * val


def arnaud_halo_properties(cosmo, m500: np.ndarray, z: np.ndarray, truncation: float) -> dict:
    """Size, pressure normalisation, integrated Y and temperature of halos.

    Parameters
    ----------
    cosmo : colossus.cosmology.Cosmology
    m500 : ndarray
        M500c in M_sun.
    z : ndarray
        Redshift.
    truncation : float
        Profile cut-off radius in units of R500.

    Returns
    -------
    dict of ndarray
        ``r500`` (physical Mpc), ``theta500_arcmin``, ``y0`` (central Compton-y
        scale: y(theta) = y0 Pi(theta / theta500)), ``y_arcmin2`` (Y within the
        truncation sphere, arcmin^2), ``t_keV`` (gas temperature, keV).
    """
    m500 = np.asarray(m500, dtype=float)
    z = np.asarray(z, dtype=float)
    h = cosmo.H0 / 100.0
    h70 = cosmo.H0 / 70.0
    ez = cosmo.Ez(z)
    rho_c = cosmo.rho_c(z) * h**2 * 1e9  # M_sun / Mpc^3 (physical)
    r500 = (3.0 * m500 / (4.0 * np.pi * 500.0 * rho_c)) ** (1.0 / 3.0)
    d_a = cosmo.angularDiameterDistance(z) / h  # Mpc
    theta500 = r500 / d_a  # rad
    m_ratio = m500 / (M_PIVOT_H70 / h70)
    p500 = P500_NORM_KEV_CM3 * ez ** (8.0 / 3.0) * m_ratio ** (2.0 / 3.0) * h70**2
    # P(r) = P500 p(x) (M/M_pivot)^alpha_p, with P0 scaling as h70^-3/2 (Arnaud et al. 2010 eq. 12)
    p_scale = p500 * m_ratio**ALPHA_P * h70**-1.5
    y0 = SIGMA_T_OVER_MEC2 * p_scale * r500 * _MPC_CM
    y_sr = SIGMA_T_OVER_MEC2 * p_scale * (r500 * _MPC_CM) ** 3 * spherical_integral(truncation)
    y_sr /= (d_a * _MPC_CM) ** 2
    t_kev = 5.0 * (ez * m500 / (MT_NORM_H70 / h70)) ** (1.0 / MT_SLOPE)
    return {
        "r500": r500,
        "theta500_arcmin": np.degrees(theta500) * 60.0,
        "y0": y0,
        "y_arcmin2": y_sr * _ARCMIN2_PER_SR,
        "t_keV": t_kev,
    }
