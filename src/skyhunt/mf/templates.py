"""Cluster templates and transfer functions of the matched filter, in Fourier space.

DeepSZ (Lin et al. 2021, section 2.1) filters with a projected isothermal
beta-model (beta = 1) at 12 angular scales, as SPT does (Vanderlinde et al.
2010); current survey pipelines use the Arnaud et al. (2010) pressure profile
on a theta500 grid, offered here too. Templates are normalised to a central
value of 1, so the filter's amplitude is the central Compton-y, y0.

Fourier conventions: a flat map f(x) has the continuous transform
``f~(k) = int f(x) exp(-i k.x) d^2x``; with angles in radians the wavenumber
|k| equals the multipole ell. Templates are returned in steradians (the
transform of a dimensionless profile).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from skyhunt.sky import profiles

ARCMIN = np.pi / (180.0 * 60.0)


def beta_model_ft(ell: np.ndarray, core_radius_arcmin: float) -> np.ndarray:
    """Transform of the projected isothermal beta-model with beta = 1.

    The profile is ``t(theta) = 1 / (1 + theta^2 / theta_c^2)``, untruncated;
    its 2-D transform is ``2 pi theta_c^2 K_0(ell theta_c)``, which diverges
    (logarithmically) only at ell = 0, a mode the filter does not use.

    Parameters
    ----------
    ell : ndarray
        Wavenumbers |k| (= multipole), rad^-1.
    core_radius_arcmin : float
        Core radius theta_c, arcmin.

    Returns
    -------
    ndarray
        t~(ell) in sr; 0 where ell = 0.
    """
    tc = core_radius_arcmin * ARCMIN
    ell = np.asarray(ell, dtype=float)
    out = np.zeros_like(ell)
    pos = ell > 0
    out[pos] = 2.0 * np.pi * tc**2 * special.k0(ell[pos] * tc)
    return out


def arnaud_ft(ell: np.ndarray, theta500_arcmin: float, truncation: float, n_theta: int = 4096) -> np.ndarray:
    """Transform of the projected Arnaud et al. (2010) profile, truncated at ``truncation`` theta500.

    The projected profile Pi(theta / theta500) of
    :func:`skyhunt.sky.profiles.projected_table` (the profile the simulated
    clusters are painted with), divided by its central value, is Hankel
    transformed, ``t~(ell) = 2 pi int_0^R theta t(theta) J_0(ell theta) dtheta``,
    by the trapezoidal rule on a grid uniform in sqrt(theta) (dense at the cusp).

    Parameters
    ----------
    ell : ndarray
        Wavenumbers, rad^-1.
    theta500_arcmin : float
        Angular R500, arcmin.
    truncation : float
        Cut-off radius in units of theta500.
    n_theta : int
        Quadrature points.

    Returns
    -------
    ndarray
        t~(ell) in sr, same shape as ``ell``.
    """
    x_tab, pi_tab = profiles.projected_table(float(truncation))
    x = (np.linspace(0.0, 1.0, n_theta) ** 2) * truncation
    prof = np.interp(x, x_tab, pi_tab) / pi_tab[0]
    theta = x * theta500_arcmin * ARCMIN
    ell = np.asarray(ell, dtype=float)
    # tabulate on a 1-D grid of |k| and interpolate: the 2-D grid has far more points than distinct radii
    lgrid = np.concatenate([[0.0], np.geomspace(1.0, max(float(ell.max()), 2.0) * 1.01, 1024)])
    integrand = theta[None, :] * prof[None, :] * special.j0(lgrid[:, None] * theta[None, :])
    table = 2.0 * np.pi * np.trapezoid(integrand, theta, axis=1)
    return np.interp(ell, lgrid, table)


def interpolation_window(kx: np.ndarray, ky: np.ndarray, nside: int, dec_deg: float) -> np.ndarray:
    """Transfer function of HEALPix bilinear interpolation (as ``healpy.get_interp_val``).

    HEALPix interpolation is linear in longitude between the two nearest
    pixels of each of the two rings bracketing a point, then linear in
    colatitude between the rings: a separable triangle kernel whose
    half-widths are the in-ring pixel spacing dx and the ring spacing dy. A
    map sampled this way is the pixel values convolved with that kernel, so a
    sky signal is multiplied by ``W(k) = sinc^2(k_x dx / 2) sinc^2(k_y dy / 2)``
    and white pixel noise of power N acquires the spectrum ``N W(k)^2``
    (aliases of the pixel lattice neglected). dx and dy are those of the ring
    nearest ``dec_deg`` (at nside 8192 near the equator, 0.66' and 0.28').

    Parameters
    ----------
    kx, ky : ndarray
        Wavenumbers along RA and Dec, rad^-1 (broadcast together).
    nside : int
        HEALPix resolution of the maps.
    dec_deg : float
        Declination where the spacings are evaluated, degrees.

    Returns
    -------
    ndarray
        W(k), dimensionless.
    """
    import healpy as hp

    rings = np.arange(1, 4 * nside)
    _, nphi, cos_theta, _, _ = hp.ringinfo(nside, rings)
    theta = np.arccos(cos_theta)
    r = int(np.clip(np.searchsorted(theta, np.radians(90.0 - dec_deg)), 1, rings.size - 2))
    dx = np.sin(theta[r]) * 2.0 * np.pi / nphi[r]
    dy = 0.5 * (theta[r + 1] - theta[r - 1])
    return np.sinc(kx * dx / (2.0 * np.pi)) ** 2 * np.sinc(ky * dy / (2.0 * np.pi)) ** 2


def healpix_pixel_window(ell: np.ndarray, nside: int) -> np.ndarray:
    """HEALPix pixel window (``healpy.pixwin``) at the given multipoles, held constant beyond its table."""
    import healpy as hp

    pw = hp.pixwin(nside)
    return np.interp(np.asarray(ell, dtype=float), np.arange(pw.size), pw)


def bank_key(mf_cfg: dict) -> tuple:
    """The settings of ``mf_cfg`` that :func:`template_bank` depends on (a cache key)."""
    if mf_cfg["template"] == "beta":
        return ("beta", tuple(mf_cfg["core_radii_arcmin"]))
    return (
        mf_cfg["template"],
        tuple(mf_cfg["arnaud"]["theta500_arcmin"]),
        mf_cfg["arnaud"]["truncation_r500"],
    )


def template_bank(ell: np.ndarray, mf_cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The configured templates on a grid of wavenumbers.

    Parameters
    ----------
    ell : ndarray
        Wavenumbers, rad^-1.
    mf_cfg : dict
        The ``mf`` config: ``template`` ('beta' or 'arnaud'),
        ``core_radii_arcmin`` or ``arnaud.theta500_arcmin`` and ``arnaud.truncation_r500``.

    Returns
    -------
    scales : ndarray
        The scale of each template, arcmin (core radius or theta500).
    templates : ndarray, shape (n_scales, *ell.shape)
        Transforms in sr.
    """
    ell = np.asarray(ell, dtype=float)
    pos = ell > 0
    # templates are radial: tabulate on a fine logarithmic grid of |k| (relative step 0.2 %) and interpolate
    lo, hi = (float(ell[pos].min()), float(ell.max())) if pos.any() else (1.0, 1.0)
    table_ell = np.geomspace(lo, hi * 1.0001, max(int(np.log(hi * 1.0001 / lo) / 2e-3) + 2, 2))
    if mf_cfg["template"] == "beta":
        scales = np.asarray(mf_cfg["core_radii_arcmin"], dtype=float)
        tables = [beta_model_ft(table_ell, s) for s in scales]
    elif mf_cfg["template"] == "arnaud":
        scales = np.asarray(mf_cfg["arnaud"]["theta500_arcmin"], dtype=float)
        tables = [arnaud_ft(table_ell, s, mf_cfg["arnaud"]["truncation_r500"]) for s in scales]
    else:
        raise ValueError(f"mf.template must be 'beta' or 'arnaud', got {mf_cfg['template']!r}")
    bank = np.zeros((scales.size, *ell.shape))
    log_ell = np.log(ell[pos])
    for k, table in enumerate(tables):
        bank[k][pos] = np.interp(log_ell, np.log(table_ell), table)
    return scales, bank
