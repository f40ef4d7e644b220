"""Spectral laws against standard values and an independent implementation (astropy)."""

import numpy as np
import pytest
from astropy import units as u
from scipy.optimize import brentq

from skyhunt.sky import spectra


def test_tsz_spectrum_standard_values():
    # f(x) = x coth(x/2) - 4 at T_CMB = 2.7255 K (e.g. Carlstrom et al. 2002; SPT band centres)
    f = spectra.tsz_spectrum([90.0, 148.0, 219.0])
    np.testing.assert_allclose(f[:2], [-1.598, -0.978], atol=2e-3)
    assert abs(f[2]) < 0.03, "219 GHz sits next to the SZ null"
    # Rayleigh-Jeans limit f -> -2
    assert spectra.tsz_spectrum(1.0) == pytest.approx(-2.0, abs=1e-3)


def test_tsz_null_frequency():
    null = brentq(spectra.tsz_spectrum, 150.0, 300.0)
    assert null == pytest.approx(217.5, abs=0.3)  # x = 3.830 at T_CMB = 2.7255 K


@pytest.mark.parametrize("freq", [90.0, 148.0, 219.0, 353.0])
def test_jy_per_sr_to_uk_matches_astropy(freq):
    equiv = u.thermodynamic_temperature(freq * u.GHz, T_cmb=spectra.T_CMB_K * u.K)
    expected = (1.0 * u.Jy / u.sr).to(u.uK, equivalencies=equiv).value
    assert spectra.jy_per_sr_to_uk_cmb(freq) == pytest.approx(expected, rel=1e-6)


def test_modified_blackbody_ratio():
    assert spectra.modified_blackbody_uk_ratio(219.0, 219.0, 1.6, 19.6) == pytest.approx(1.0)
    r = spectra.modified_blackbody_uk_ratio(np.array([90.0, 148.0, 353.0]), 219.0, 1.6, 19.6)
    assert np.all(np.diff(r) > 0), "dust rises steeply with frequency in CMB units"
    assert r[0] < 0.2 and r[2] > 5.0


def wright_distortion(x: np.ndarray, theta: float, ns: int = 801, ngamma: int = 240, nmu: int = 40):
    """Single-scattering intensity distortion per unit optical depth of a thermal electron gas.

    An independent, exact-in-temperature computation: Wright (1979)'s scattering
    kernel for one electron speed, P(s; beta), averaged over the Maxwell-Juttner
    distribution, P1(s), then ``Delta i(x) / tau = int P1(s) i(x e^-s) ds - i(x)`` with
    ``i(x) = x^3 / (e^x - 1)`` (Birkinshaw 1999, Phys. Rep. 310, 97, eqs. 60-66).
    The kernel is divided by its quadrature normalisation (it integrates to 1).
    """
    from scipy import special

    sg = np.linspace(-1.0, 1.0, ns) * (12.0 * np.sqrt(theta) + 0.05)
    mu_n, mu_w = np.polynomial.legendre.leggauss(nmu)
    p1 = np.zeros(ns)
    for i, s in enumerate(sg):
        gmin = np.cosh(abs(s) / 2.0)  # gamma of the slowest electron that shifts by s
        u = (np.arange(ngamma) + 0.5) / ngamma  # gamma = gmin + 40 theta u^2: dense where the kernel starts
        g = gmin + 40.0 * theta * u**2
        b = np.sqrt(1.0 - 1.0 / g**2)
        # Maxwell-Juttner in gamma: gamma^2 beta exp(-gamma / theta) / (theta K2(1 / theta))
        pe = g**2 * b * np.exp(-(g - 1.0) / theta) / (theta * special.kve(2, 1.0 / theta))
        if s <= 0:
            mu1, mu2 = -np.ones_like(b), (1.0 - np.exp(-s) * (1.0 - b)) / b
        else:
            mu1, mu2 = (1.0 - np.exp(-s) * (1.0 + b)) / b, np.ones_like(b)
        mu = 0.5 * (mu2 - mu1)[:, None] * mu_n + 0.5 * (mu2 + mu1)[:, None]
        w = 0.5 * (mu2 - mu1)[:, None] * mu_w
        mup = (np.exp(s) * (1.0 - b[:, None] * mu) - 1.0) / b[:, None]
        f = (1 + b[:, None] * mup) * (1 + mu**2 * mup**2 + 0.5 * (1 - mu**2) * (1 - mup**2))
        kernel = 3.0 / (16.0 * g**4 * b) * np.sum(f / (1.0 - b[:, None] * mu) ** 3 * w, axis=1)
        p1[i] = np.sum(pe * kernel * 2.0 * u) * 40.0 * theta / ngamma
    p1 /= np.trapezoid(p1, sg)
    i0 = lambda xx: xx**3 / np.expm1(xx)  # noqa: E731
    return np.array([np.trapezoid(p1 * i0(xv * np.exp(-sg)), sg) - i0(xv) for xv in x])


@pytest.mark.parametrize("t_kev", [5.0, 12.0])
def test_relativistic_tsz_matches_the_exact_scattering_kernel(t_kev):
    freq = np.array([90.0, 148.0, 219.0, 280.0, 353.0])
    x = spectra.dimensionless_frequency(freq)
    theta = float(spectra.electron_theta(t_kev))
    # Delta i = y x^4 e^x / (e^x - 1)^2 f(x) per unit y = tau theta, in the units of i(x)
    to_i = theta * x**4 * np.exp(x) / np.expm1(x) ** 2
    exact = wright_distortion(x, theta)
    rel = to_i * spectra.relativistic_tsz_spectrum(freq, t_kev)
    nonrel = to_i * spectra.tsz_spectrum(freq)
    scale = np.abs(nonrel[1])  # errors relative to the 148 GHz decrement
    # the fourth-order series is off by 0.24 % of that at 353 GHz and 12 keV
    np.testing.assert_allclose(rel, exact, atol=3e-3 * scale)
    assert np.max(np.abs(nonrel - exact)) > 10 * np.max(np.abs(rel - exact)), "the correction matters"
    assert spectra.relativistic_tsz_spectrum(freq, 0.0) == pytest.approx(spectra.tsz_spectrum(freq))


def test_relativistic_null_moves_as_itoh_fit():
    # Itoh et al. (1998) eq. 2.32: X_0 = 3.830 (1 + 1.1674 theta - 0.8533 theta^2)
    for t_kev in (5.0, 10.0):
        theta = float(spectra.electron_theta(t_kev))
        x0 = 3.830 * (1 + 1.1674 * theta - 0.8533 * theta**2)
        null = brentq(spectra.relativistic_tsz_spectrum, 180.0, 260.0, args=(t_kev,))
        assert spectra.dimensionless_frequency(null) == pytest.approx(x0, rel=5e-4)
