"""Frequency dependence of sky components in CMB temperature units.

All maps in skyhunt are in µK_CMB, i.e. temperature fluctuations of a
blackbody at ``T_CMB`` that would produce the same change in specific
intensity. Functions here convert physical emission laws to that unit.
Band centres are treated as monochromatic (delta bandpasses), as in the
DeepSZ maps (Lin et al. 2021, section 1.1).
"""

from __future__ import annotations

import numpy as np
from astropy import constants as const

#: CMB monopole temperature in K (Fixsen 2009).
T_CMB_K = 2.7255

_H = const.h.si.value
_K = const.k_B.si.value
_C = const.c.si.value


def dimensionless_frequency(freq_ghz: float | np.ndarray) -> np.ndarray:
    """Return x = h nu / (k T_CMB).

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.
    """
    return _H * np.asarray(freq_ghz, dtype=float) * 1e9 / (_K * T_CMB_K)


def tsz_spectrum(freq_ghz: float | np.ndarray) -> np.ndarray:
    """Non-relativistic thermal SZ spectral function f(x) = x coth(x/2) - 4.

    The temperature change is ``Delta T / T_CMB = f(x) y`` with y the Compton
    parameter (Sunyaev & Zel'dovich 1972). f < 0 below the null near
    217.6 GHz, f > 0 above it.

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.

    Returns
    -------
    ndarray
        f(x), dimensionless.
    """
    x = dimensionless_frequency(freq_ghz)
    return x / np.tanh(x / 2.0) - 4.0


def dbdt_jy_sr_per_k(freq_ghz: float | np.ndarray) -> np.ndarray:
    """Exact derivative of the Planck function at T_CMB, dB_nu/dT.

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.

    Returns
    -------
    ndarray
        dB/dT in Jy sr^-1 K^-1: a source of surface brightness
        ``I`` Jy/sr appears as ``I / dbdt`` K_CMB.
    """
    nu = np.asarray(freq_ghz, dtype=float) * 1e9
    x = dimensionless_frequency(freq_ghz)
    ex = np.exp(x)
    dbdt_si = 2.0 * _K * nu**2 / _C**2 * x**2 * ex / (ex - 1.0) ** 2
    return dbdt_si * 1e26


def jy_per_sr_to_uk_cmb(freq_ghz: float | np.ndarray) -> np.ndarray:
    """Factor converting surface brightness in Jy/sr to µK_CMB.

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.

    Returns
    -------
    ndarray
        µK_CMB per (Jy/sr).
    """
    return 1e6 / dbdt_jy_sr_per_k(freq_ghz)


def modified_blackbody_uk_ratio(
    freq_ghz: float | np.ndarray, ref_freq_ghz: float, beta: float, t_dust_k: float
) -> np.ndarray:
    """Amplitude of modified-blackbody emission relative to a reference band, in µK_CMB.

    Intensity scales as ``nu^beta B_nu(T_dust)``; the ratio is converted to
    CMB temperature units with :func:`dbdt_jy_sr_per_k`.

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.
    ref_freq_ghz : float
        Reference frequency in GHz, where the ratio is 1.
    beta : float
        Emissivity spectral index.
    t_dust_k : float
        Dust temperature in K.

    Returns
    -------
    ndarray
        Ratio of µK_CMB at ``freq_ghz`` to µK_CMB at ``ref_freq_ghz``.
    """

    def intensity(f):
        nu = np.asarray(f, dtype=float) * 1e9
        return nu ** (3.0 + beta) / np.expm1(_H * nu / (_K * t_dust_k))

    ratio_intensity = intensity(freq_ghz) / intensity(ref_freq_ghz)
    return ratio_intensity * dbdt_jy_sr_per_k(ref_freq_ghz) / dbdt_jy_sr_per_k(freq_ghz)
