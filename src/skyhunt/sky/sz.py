"""Paint thermal and kinematic SZ maps of a halo catalogue onto HEALPix pixels.

Thermal SZ: Compton-y of the Arnaud et al. (2010) profile (or, per halo, that of
Battaglia et al. 2012 when the halo table carries its shape), truncated at
``truncation`` R500, converted per band with the non-relativistic spectrum
f(x) (:func:`skyhunt.sky.spectra.tsz_spectrum`).

Kinematic SZ: Delta T / T_CMB = -tau v_los / c, with the optical depth of an
isothermal gas at the halo's M500-T temperature, tau = y m_e c^2 / (k T), so
tau follows the same projected profile as y (DeepSZ, Lin et al. 2021,
section 1.1, treats kSZ as an additional noise term).

With a beam, each halo is painted as its profile convolved with the beam
(:class:`skyhunt.sky.profiles.BeamedProfiles`), out to the truncation radius
plus the beam's support; without one, as the profile itself.

Both are painted from each halo's realised Y5R500 (``y5r500_arcmin2``). With
Y-M scatter (:func:`skyhunt.sky.halos.scatter_y`) the scatter is one of the
pressure normalisation at the M500-T temperature, i.e. of the gas density, so
tau = y m_e c^2 / (k T) scatters with y and each halo stays isothermal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.sky import profiles
from skyhunt.sky.beam import Beam, disc_offsets, map_slots
from skyhunt.sky.halos import C_KM_S
from skyhunt.sky.spectra import T_CMB_K, electron_theta, relativistic_tsz_coefficients


def paint_y_and_tau_v(
    halos: pd.DataFrame,
    nside: int,
    pixels: np.ndarray,
    truncation: float,
    beam: Beam | None = None,
    temperature_moments: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compton-y and tau * v_los / c maps of all halos on the given pixels, seen through ``beam``.

    Each halo's profile (convolved with ``beam`` if given) is sampled at the
    centres of the pixels within ``truncation * theta500`` (plus the beam's
    support radius) and rescaled so that the pixel sum times the pixel solid
    angle equals the halo's analytic Y (flux conservation, which matters for
    halos comparable to or smaller than a pixel). A halo whose disc holds no
    pixel centre puts all its Y in the pixel containing it.

    Parameters
    ----------
    halos : pandas.DataFrame
        Halo table with ra, dec (deg), theta500_arcmin, y5r500_arcmin2,
        t_keV and v_los (km/s); with ``profile_xc_r500`` and ``profile_beta`` each halo is
        painted with its Battaglia et al. (2012) shape
        (:func:`skyhunt.sky.profiles.battaglia_table`; no beam), else with Arnaud's.
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices of the footprint.
    truncation : float
        Profile cut-off in units of R500 (must match the Y in ``halos``).
    beam : skyhunt.sky.beam.Beam, optional
        The band's beam; None (default) paints the unconvolved profiles.
    temperature_moments : int
        Also paint ``y theta_e^k`` for k = 1 ... this (theta_e = kT / m_e c^2 of
        each halo's isothermal gas), the maps the relativistic tSZ spectrum
        combines (:func:`relativistic_tsz_map`); 0 paints none.

    Returns
    -------
    y : ndarray
        Compton-y at ``pixels`` (dimensionless).
    tau_v : ndarray
        tau * v_los / c at ``pixels`` (dimensionless; kSZ Delta T / T_CMB = -tau_v).
    y_theta : ndarray, shape (temperature_moments, len(pixels))
        ``y theta_e^k`` at ``pixels``, k = 1, 2, ... (dimensionless).
    """
    import healpy as hp

    omega_pix_arcmin2 = hp.nside2pixarea(nside, degrees=True) * 3600.0
    y = np.zeros(pixels.size)
    tau_v = np.zeros(pixels.size)
    y_theta = np.zeros((temperature_moments, pixels.size))
    vec = hp.ang2vec(halos["ra"].to_numpy(), halos["dec"].to_numpy(), lonlat=True)
    theta500 = np.radians(halos["theta500_arcmin"].to_numpy() / 60.0)
    y_tot = halos["y5r500_arcmin2"].to_numpy() / omega_pix_arcmin2  # in pixel units
    tau_per_y = profiles.MEC2_KEV / halos["t_keV"].to_numpy()
    beta = halos["v_los"].to_numpy() / C_KM_S
    theta_e = electron_theta(halos["t_keV"].to_numpy())
    powers = theta_e[:, None] ** np.arange(1, temperature_moments + 1)
    if "profile_xc_r500" in halos.columns:
        if beam is not None:
            raise ValueError("the Battaglia et al. (2012) profile is painted without a beam only")
        xc, shape_beta = halos["profile_xc_r500"].to_numpy(), halos["profile_beta"].to_numpy()
        radius = truncation * theta500

        def shape(i, dist):
            x_tab, pi_tab = profiles.battaglia_table(float(xc[i]), float(shape_beta[i]), float(truncation))
            return np.interp(dist / theta500[i], x_tab, pi_tab)

    elif beam is None:
        x_tab, pi_tab = profiles.projected_table(float(truncation))
        radius = truncation * theta500

        def shape(i, dist):
            return np.interp(dist / theta500[i], x_tab, pi_tab)

    elif len(halos):
        tables = profiles.BeamedProfiles(truncation, beam, theta500.min(), theta500.max())
        radius = tables.radius(theta500)

        def shape(i, dist):
            return tables.at(dist, theta500[i])

    for i in range(len(halos)):
        disc, dist = disc_offsets(nside, vec[i], radius[i])
        prof = shape(i, dist)
        norm = prof.sum()
        if not norm > 0.0:
            prof, norm = np.ones(dist.size), float(dist.size)
        slot, inside = map_slots(pixels, disc)
        if not inside.any():
            continue
        yi = prof[inside] * (y_tot[i] / norm)
        y[slot[inside]] += yi
        tau_v[slot[inside]] += yi * (tau_per_y[i] * beta[i])
        for k in range(temperature_moments):
            y_theta[k, slot[inside]] += yi * powers[i, k]
    return y, tau_v, y_theta


#: Temperature moments y theta_e^k (k = 1 ...) of the fourth-order relativistic tSZ spectrum.
RELATIVISTIC_MOMENTS = 4


def relativistic_tsz_map(y: np.ndarray, y_theta: np.ndarray, freq_ghz: float) -> np.ndarray:
    """Thermal SZ temperature in µK_CMB with the relativistic spectrum of each halo's gas.

    ``Delta T = T_CMB sum_k Y_k(x) (y theta_e^k)`` with the coefficients of
    Itoh, Kohyama & Nozawa (1998) (:func:`skyhunt.sky.spectra.relativistic_tsz_coefficients`):
    exact for overlapping halos of different temperatures, as every term is
    linear in y.

    Parameters
    ----------
    y : ndarray
        Compton-y map.
    y_theta : ndarray, shape (RELATIVISTIC_MOMENTS, len(y))
        ``y theta_e^k`` maps for k = 1 ... 4 (:func:`paint_y_and_tau_v` with
        ``temperature_moments=RELATIVISTIC_MOMENTS``).
    freq_ghz : float
        Band frequency, GHz.
    """
    coef = relativistic_tsz_coefficients(freq_ghz)
    return T_CMB_K * 1e6 * (coef[0] * y + np.tensordot(coef[1:], y_theta, axes=1))
