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
