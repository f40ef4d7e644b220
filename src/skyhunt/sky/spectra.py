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

from skyhunt.sky.profiles import MEC2_KEV

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


def electron_theta(t_kev: float | np.ndarray) -> np.ndarray:
    """Dimensionless electron temperature theta_e = k T_e / (m_e c^2), for T_e in keV."""
    return np.asarray(t_kev, dtype=float) / MEC2_KEV


#: Polynomial coefficients of the relativistic tSZ expansion of Itoh, Kohyama & Nozawa (1998,
#: ApJ 502, 7, eqs. 2.26-2.30): Y_k = sum over (j, n) of c * S~^(2j) X~^n, keyed by k, then j,
#: with the coefficients of X~^0, X~^1, ... in each list.
_ITOH_COEFFICIENTS = {
    0: {0: [-4.0, 1.0]},
    1: {0: [-10.0, 47 / 2, -42 / 5, 7 / 10], 1: [-21 / 5, 7 / 5]},
    2: {
        0: [-15 / 2, 1023 / 8, -868 / 5, 329 / 5, -44 / 5, 11 / 30],
        1: [-434 / 5, 658 / 5, -242 / 5, 143 / 30],
        2: [-44 / 5, 187 / 60],
    },
    3: {
        0: [15 / 2, 2505 / 8, -7098 / 5, 14253 / 10, -18594 / 35, 12059 / 140, -128 / 21, 16 / 105],
        1: [-7098 / 10, 14253 / 5, -102267 / 35, 156767 / 140, -1216 / 7, 64 / 7],
        2: [-18594 / 35, 205003 / 280, -1920 / 7, 1024 / 35],
        3: [-544 / 21, 992 / 105],
    },
    4: {
        0: [
            -135 / 32,
            30375 / 128,
            -62391 / 10,
            614727 / 40,
            -124389 / 10,
            355703 / 80,
            -16568 / 21,
            7516 / 105,
            -22 / 7,
            11 / 210,
        ],
        1: [
            -62391 / 20,
            614727 / 20,
            -1368279 / 20,
            4624139 / 80,
            -157396 / 7,
            30064 / 7,
            -2717 / 7,
            2761 / 210,
        ],
        2: [-124389 / 10, 6046951 / 160, -248520 / 7, 481024 / 35, -15972 / 7, 18689 / 140],
        3: [-70414 / 21, 465992 / 105, -11792 / 7, 19778 / 105],
        4: [-682 / 7, 7601 / 210],
    },
}


def relativistic_tsz_coefficients(freq_ghz: float | np.ndarray) -> np.ndarray:
    """Coefficients Y_0 ... Y_4 of the relativistic thermal SZ spectrum in powers of theta_e.

    Itoh, Kohyama & Nozawa (1998) expand the single-scattering Compton
    distortion of the CMB by a thermal (Maxwell-Juttner) electron gas to
    fourth order in theta_e = kT_e / m_e c^2:
    ``Delta T / T_CMB = y sum_k Y_k(x) theta_e^k``, with ``Y_0 = f(x)`` of
    :func:`tsz_spectrum`. The expansion is accurate to better than 1 % of the
    signal for kT_e <~ 15 keV (their Fig. 1); halos of the default sky reach
    ~10 keV. The null moves up with temperature (about 222 GHz at 10 keV).

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.

    Returns
    -------
    ndarray, shape (5, *freq.shape)
        Y_k(x), dimensionless.
    """
    x = dimensionless_frequency(freq_ghz)
    xt = x / np.tanh(x / 2.0)
    st2 = (x / np.sinh(x / 2.0)) ** 2
    out = np.zeros((len(_ITOH_COEFFICIENTS), *np.shape(x)))
    for k, blocks in _ITOH_COEFFICIENTS.items():
        for j, coef in blocks.items():
            out[k] = out[k] + st2**j * np.polynomial.polynomial.polyval(xt, coef)
    return out


def relativistic_tsz_spectrum(freq_ghz: float | np.ndarray, t_kev: float | np.ndarray) -> np.ndarray:
    """Relativistic thermal SZ spectral function, ``Delta T / T_CMB = f_rel(x, T_e) y``.

    Parameters
    ----------
    freq_ghz : float or array
        Frequency in GHz.
    t_kev : float or array
        Electron temperature in keV (broadcast against ``freq_ghz``).

    Returns
    -------
    ndarray
        f_rel, dimensionless; equals :func:`tsz_spectrum` for T_e = 0.
    """
    theta = electron_theta(t_kev)
    coef = relativistic_tsz_coefficients(freq_ghz)
    return sum(c * theta**k for k, c in enumerate(coef))
