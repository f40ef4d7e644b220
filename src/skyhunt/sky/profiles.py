"""Arnaud et al. (2010) universal pressure profile, projected to Compton-y, and the
Battaglia et al. (2012) AGN-feedback profile as an alternative sky model.

The profile is tabulated once in dimensionless form, Pi(X) = y / y_0 with
X = theta / theta500, and scaled per halo; painting then costs one table
look-up per pixel. Thermal SZ follows DeepSZ (Lin et al. 2021, section 1.1:
the SZ signal of halos is the target, unresolved halos are noise).

The Battaglia et al. (2012, ApJ 758, 75) profile's shape changes (weakly) with mass and
redshift, so it is tabulated per halo shape, (x_c in R500, beta) rounded to 1 %
(:func:`battaglia_table`); the sky option ``sky.halos.pressure_profile: battaglia12``.
"""

from __future__ import annotations

import functools

import numpy as np
from astropy import constants as const
from astropy import units as u
from scipy import integrate, special

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
_G_CGS = const.G.cgs.value
_MSUN_G = const.M_sun.cgs.value
_KEV_ERG = u.keV.to(u.erg)

#: Battaglia et al. (2012) Table 1, AGN feedback, fit of P_th / P200 = P0 (x/x_c)^gamma
#: [1 + (x/x_c)^alpha]^-beta with x = r / R200c: A = A0 (M200c / 1e14 M_sun)^alpha_m (1 + z)^alpha_z
#: for A = P0, x_c, beta, as (A0, alpha_m, alpha_z); alpha = 1 and gamma = -0.3 fixed.
BATTAGLIA12_AGN = {"P0": (18.1, 0.154, -0.758), "xc": (0.497, -0.00865, 0.731), "beta": (4.35, 0.0393, 0.415)}
BATTAGLIA12_ALPHA = 1.0
BATTAGLIA12_GAMMA = -0.3
#: Electron share of the thermal pressure, 2 (X + 1) / (5 X + 3) for a hydrogen mass fraction X = 0.76
#: (Battaglia et al. 2012 section 4.1).
ELECTRON_PRESSURE_FRACTION = 2.0 * (0.76 + 1.0) / (5.0 * 0.76 + 3.0)
#: Relative rounding of a halo's Battaglia shape parameters for the shared projection tables.
BATTAGLIA12_SHAPE_STEP = 1e-2
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


def battaglia_parameters(m200c: np.ndarray, z: np.ndarray) -> dict:
    """P0, x_c (in R200c) and beta of the Battaglia et al. (2012) AGN-feedback fit (their Table 1).

    Parameters
    ----------
    m200c : ndarray
        M200c, M_sun.
    z : ndarray
        Redshift.
    """
    m = np.asarray(m200c, dtype=float) / 1e14
    zp1 = 1.0 + np.asarray(z, dtype=float)
    return {k: a0 * m**am * zp1**az for k, (a0, am, az) in BATTAGLIA12_AGN.items()}


def battaglia_shape(x: np.ndarray, xc: float, beta: float) -> np.ndarray:
    """Dimensionless Battaglia et al. (2012) shape (x/x_c)^gamma [1 + (x/x_c)^alpha]^-beta."""
    t = np.asarray(x, dtype=float) / xc
    return t**BATTAGLIA12_GAMMA * (1.0 + t**BATTAGLIA12_ALPHA) ** -beta


def project(pressure, truncation: float, x: np.ndarray, n_nodes: int = 256) -> np.ndarray:
    """Pi(X) = 2 int_0^sqrt(t^2 - X^2) p(sqrt(X^2 + l^2)) dl of a spherical profile, vectorised.

    Gauss-Legendre quadrature in u with l = X sinh(u) (X > 0), which follows the integrand's
    scale X near the axis, and l = s^2 at X = 0 (an integrable cusp r^gamma, gamma > -1).

    Parameters
    ----------
    pressure : callable
        p(r), r in units of R500 (ndarray in, ndarray out).
    truncation : float
        Cut-off radius t, R500.
    x : ndarray
        Projected radii X, R500 (0 <= X <= t).
    """
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    centre = x == 0.0
    if centre.any():
        s = 0.5 * np.sqrt(truncation) * (nodes + 1.0)
        out[centre] = 2.0 * np.sum(weights * 0.5 * np.sqrt(truncation) * 2.0 * s * pressure(s * s))
    xi = x[~centre]
    umax = np.arcsinh(np.sqrt(np.maximum(truncation**2 - xi**2, 0.0)) / xi)
    uu = 0.5 * umax[:, None] * (nodes + 1.0)
    integrand = xi[:, None] * np.cosh(uu) * pressure(xi[:, None] * np.cosh(uu))
    out[~centre] = 2.0 * 0.5 * umax * (integrand @ weights)
    return out


@functools.lru_cache(maxsize=4096)
def battaglia_table(
    xc_r500: float, beta: float, truncation: float, n: int = 600
) -> tuple[np.ndarray, np.ndarray]:
    """Projected Battaglia shape with x_c given in R500, on the radii of :func:`projected_table`.

    Returns
    -------
    x, pi : ndarray
        theta / theta500 from 0 to ``truncation``, and Pi(X) (dimensionless, unnormalised).
    """
    x = np.concatenate([[0.0], np.geomspace(1e-4, truncation, n - 1)])
    return x, project(lambda r: battaglia_shape(r, xc_r500, beta), truncation, x)


def rounded_shape(value: np.ndarray) -> np.ndarray:
    """Shape parameters rounded to :data:`BATTAGLIA12_SHAPE_STEP` in the log (shared tables)."""
    step = np.log1p(BATTAGLIA12_SHAPE_STEP)
    return np.exp(np.round(np.log(np.asarray(value, dtype=float)) / step) * step)


def battaglia_halo_properties(
    cosmo, m500: np.ndarray, m200: np.ndarray, z: np.ndarray, truncation: float
) -> dict:
    """Integrated Y and shape of halos with the Battaglia et al. (2012) AGN-feedback pressure profile.

    P_e(r) = f_e P0 P200 (x/x_c)^-0.3 [1 + x/x_c]^-beta, x = r / R200c, with
    P200 = G M200c 200 rho_c(z) f_b / (2 R200c) (their eq. 9, f_b = Omega_b / Omega_m) and f_e
    :data:`ELECTRON_PRESSURE_FRACTION`; Y is its volume integral within ``truncation`` R500
    times sigma_T / (m_e c^2), over D_A^2. Sizes and the temperature are those of
    :func:`arnaud_halo_properties` (R500 and M500c are the same halos').

    Parameters
    ----------
    cosmo : colossus.cosmology.Cosmology
    m500, m200 : ndarray
        M500c and M200c of the halos, M_sun.
    z : ndarray
        Redshift.
    truncation : float
        Profile cut-off radius in units of R500.

    Returns
    -------
    dict of ndarray
        As :func:`arnaud_halo_properties` (``y0`` and ``y_arcmin2`` of the Battaglia profile:
        y(theta) = y0 Pi(theta / theta500) with Pi of :func:`battaglia_table`), plus the shape
        ``xc_r500`` (x_c in units of R500) and ``beta``, each rounded by :func:`rounded_shape` (the
        painted shape; Y is that of the exact parameters, and the painting is normalised to it).
    """
    props = arnaud_halo_properties(cosmo, m500, z, truncation)
    m500, m200, z = (np.asarray(a, dtype=float) for a in (m500, m200, z))
    h = cosmo.H0 / 100.0
    rho_c = cosmo.rho_c(z) * h**2 * 1e9  # M_sun / Mpc^3 (physical)
    r200 = (3.0 * m200 / (4.0 * np.pi * 200.0 * rho_c)) ** (1.0 / 3.0)
    r500 = props["r500"]
    par = battaglia_parameters(m200, z)
    f_b = cosmo.Ob0 / cosmo.Om0
    # G M 200 rho_c f_b / (2 R) in erg / cm^3, then keV / cm^3
    p200 = _G_CGS * m200 * _MSUN_G * 200.0 * rho_c * _MSUN_G / _MPC_CM**3 * f_b / (2.0 * r200 * _MPC_CM)
    p_e = ELECTRON_PRESSURE_FRACTION * par["P0"] * p200 / _KEV_ERG
    xc_r500, beta = par["xc"] * r200 / r500, par["beta"]
    nodes, weights = np.polynomial.legendre.leggauss(256)
    s = 0.5 * np.sqrt(truncation) * (nodes + 1.0)  # r = s^2, through the central cusp
    volume = np.concatenate(
        [
            4.0
            * np.pi
            * (battaglia_shape(s * s, xc_r500[c : c + 4096, None], beta[c : c + 4096, None]) * s**5)
            @ (weights * np.sqrt(truncation))
            for c in range(0, xc_r500.size, 4096)
        ]
    )
    d_a = cosmo.angularDiameterDistance(z) / h  # Mpc
    y_sr = SIGMA_T_OVER_MEC2 * p_e * (r500 * _MPC_CM) ** 3 * volume / (d_a * _MPC_CM) ** 2
    return {
        **props,
        "y0": SIGMA_T_OVER_MEC2 * p_e * r500 * _MPC_CM,
        "y_arcmin2": y_sr * _ARCMIN2_PER_SR,
        "xc_r500": rounded_shape(xc_r500),
        "beta": rounded_shape(beta),
    }


@functools.lru_cache(maxsize=8)
def _normalised_transform(truncation: float, k_max: float, dk: float = 0.02, dx_k: float = 0.3):
    """Fourier (2-D Hankel) transform of Pi(X), normalised to 1 at k = 0, on a grid of k (per R500).

    By the projection-slice theorem the 2-D transform of the projected,
    truncated profile is the 3-D transform of p(x) on the truncation sphere:
    ``Pi~(k) = 4 pi int_0^t p(x) x^2 sin(k x) / (k x) dx``; midpoint rule on a
    grid fine enough for ``k_max`` (``dx_k`` rad of phase per step).
    """
    n_x = int(np.ceil(truncation * k_max / dx_k)) + 200
    dx = truncation / n_x
    x = (np.arange(n_x) + 0.5) * dx
    weight = gnfw(x) * x * x * dx
    k = np.arange(0.0, k_max + 2 * dk, dk)
    out = np.empty_like(k)
    for c in range(0, k.size, 256):
        out[c : c + 256] = np.sinc(np.outer(k[c : c + 256], x) / np.pi) @ weight
    return k, out / out[0]


class BeamedProfiles:
    """Arnaud profiles truncated at ``truncation`` R500, convolved with a beam, tabulated in theta500.

    The convolution depends on theta500 in angle, so the beam-convolved
    profile h(theta; theta500), normalised to unit integral, is computed on a
    log-spaced grid of theta500 by a flat-sky Hankel transform,
    ``h(theta) = 1 / (2 pi) int Pi~(ell theta500) b_ell J0(ell theta) ell d ell``
    (:func:`_normalised_transform`), and stored in the scaled radius
    ``u = theta / s`` with ``s = sqrt(theta500^2 + fwhm^2)`` (as ``s^2 h``),
    in which the profile changes slowly with theta500 both for halos much
    larger and much smaller than the beam. :meth:`at` interpolates linearly in
    log theta500 between the two neighbouring tables.

    Parameters
    ----------
    truncation : float
        Profile cut-off in units of R500.
    beam : skyhunt.sky.beam.Beam
    theta500_min, theta500_max : float
        Range of theta500 to cover, rad.
    per_decade : int
        Grid points per decade of theta500 (16 keeps interpolation errors below 1 %).
    n_u : int
        Samples of each table in u.
    """

    def __init__(self, truncation, beam, theta500_min, theta500_max, per_decade=16, n_u=2048):
        lo, hi = float(theta500_min), max(float(theta500_max), 1.01 * float(theta500_min))
        n_t = max(2, int(np.ceil(per_decade * np.log10(hi / lo))) + 1)
        self.log_t = np.linspace(np.log(lo), np.log(hi), n_t)
        self.truncation = float(truncation)
        self.beam = beam
        t = np.exp(self.log_t)
        scale = np.hypot(t, beam.fwhm_rad)
        self.u_max = float(np.max((truncation * t + beam.support_rad) / scale))
        self.u = np.linspace(0.0, self.u_max, n_u)
        k, pik = _normalised_transform(self.truncation, float(beam.lmax * t[-1]))
        self.tables = np.empty((n_t, n_u))
        for j, (tj, sj) in enumerate(zip(t, scale, strict=True)):
            theta = self.u * sj
            reach = truncation * tj + beam.support_rad
            d_ell = max(1.0, 0.5 / reach)
            ell = np.arange(0.0, beam.lmax + 1.0, d_ell)
            kernel = np.interp(ell * tj, k, pik) * beam.transfer(ell) * ell * d_ell / (2 * np.pi)
            # trapezoid sum over ell, plus its Euler-Maclaurin end correction at ell = 0
            h = np.full(n_u, d_ell**2 / (24.0 * np.pi))
            for c in range(0, n_u, 256):
                h[c : c + 256] += special.j0(np.outer(theta[c : c + 256], ell)) @ kernel
            h[theta > reach] = 0.0
            self.tables[j] = h * sj * sj

    def radius(self, theta500) -> np.ndarray:
        """Painting radius, rad: truncation radius plus the beam's support."""
        return self.truncation * np.asarray(theta500) + self.beam.support_rad

    def at(self, theta, theta500: float) -> np.ndarray:
        """Beam-convolved profile of a halo of size ``theta500`` (rad) at radii ``theta`` (rad).

        Returns h(theta) in sr^-1 up to a normalisation close to 1 (flat-sky
        integral of 1); callers normalise to the halo's Y on the pixels.
        """
        pos = np.interp(np.log(theta500), self.log_t, np.arange(self.log_t.size))
        j = min(int(pos), self.log_t.size - 2)
        f = pos - j
        scale = np.hypot(theta500, self.beam.fwhm_rad)
        u = np.asarray(theta) / scale
        row = (1.0 - f) * np.interp(u, self.u, self.tables[j], right=0.0) + f * np.interp(
            u, self.u, self.tables[j + 1], right=0.0
        )
        return row / (scale * scale)
