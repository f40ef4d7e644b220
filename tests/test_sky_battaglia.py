"""The second sky model of the transfer study: the Battaglia et al. (2012) pressure profile
(``sky.halos.pressure_profile: battaglia12``) and the tSZ amplitude factor ``sky.halos.tsz_scale``."""

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from astropy import constants as const
from astropy import units as u
from scipy import integrate

from skyhunt.config import ConfigError, validate_config
from skyhunt.sky import pipeline, profiles
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import convert_mass, simulate_halos
from skyhunt.sky.sz import paint_y_and_tau_v

from .conftest import shipped_config


@pytest.fixture(scope="module")
def sky():
    return shipped_config()["sky"]


def test_projection_reproduces_the_arnaud_table():
    """The vectorised line-of-sight projection used for Battaglia's shapes gives Arnaud's own table."""
    x, pi = profiles.projected_table(5.0)
    inner = x < 4.9
    np.testing.assert_allclose(profiles.project(profiles.gnfw, 5.0, x)[inner], pi[inner], rtol=1e-5)


def _independent_battaglia_y(sky, m500, z):
    """Y within 5 R500 (arcmin^2) integrated in R200c units with astropy constants (Battaglia eqs. 9-11)."""
    cosmo = colossus(sky["cosmology"])
    h = cosmo.H0 / 100.0
    m200 = convert_mass(sky["cosmology"], sky["halos"], np.array([m500]), np.array([z]), "500c", "200c")[0]
    rho_c = cosmo.rho_c(z) * h**2 * 1e9 * u.Msun / u.Mpc**3
    r200 = ((3 * m200 * u.Msun / (4 * np.pi * 200 * rho_c)) ** (1 / 3)).to(u.Mpc)
    r500 = ((3 * m500 * u.Msun / (4 * np.pi * 500 * rho_c)) ** (1 / 3)).to(u.Mpc)
    p200 = (const.G * m200 * u.Msun * 200 * rho_c * (cosmo.Ob0 / cosmo.Om0) / (2 * r200)).to(u.keV / u.cm**3)
    mm, zz = m200 / 1e14, 1 + z
    p0, xc, beta = (
        18.1 * mm**0.154 * zz**-0.758,
        0.497 * mm**-0.00865 * zz**0.731,
        4.35 * mm**0.0393 * zz**0.415,
    )
    x_max = float(5 * r500 / r200)
    shape, _ = integrate.quad(lambda x: (x / xc) ** -0.3 * (1 + x / xc) ** -beta * x * x, 0, x_max, limit=200)
    pe_volume = 0.518 * p0 * p200 * 4 * np.pi * shape * r200**3
    y = (const.sigma_T / (const.m_e * const.c**2) * pe_volume).to(u.Mpc**2)
    d_a = cosmo.angularDiameterDistance(z) / h * u.Mpc
    return (y / d_a**2 * u.rad**2).to(u.arcmin**2).value, m200


@pytest.mark.parametrize(("m500", "z"), [(2e14, 0.3), (6e14, 1.0)])
def test_battaglia_y_matches_an_independent_integral(sky, m500, z):
    """Y of the code agrees with Battaglia's fit integrated independently (0.2 %)."""
    expected, m200 = _independent_battaglia_y(sky, m500, z)
    props = profiles.battaglia_halo_properties(colossus(sky["cosmology"]), [m500], [m200], [z], 5.0)
    assert props["y_arcmin2"][0] == pytest.approx(expected, rel=2e-3)


def test_battaglia_y_within_twenty_percent_of_arnaud(sky):
    """At 1e14-1e15 M_sun the AGN-feedback Y is within ~20 % of Arnaud's, lower at high mass."""
    m500, z = np.array([1e14, 3e14, 1e15]), np.full(3, 0.5)
    m200 = convert_mass(sky["cosmology"], sky["halos"], m500, z, "500c", "200c")
    cosmo = colossus(sky["cosmology"])
    ratio = (
        profiles.battaglia_halo_properties(cosmo, m500, m200, z, 5.0)["y_arcmin2"]
        / profiles.arnaud_halo_properties(cosmo, m500, z, 5.0)["y_arcmin2"]
    )
    assert np.all((ratio > 0.78) & (ratio < 1.12)), ratio
    assert ratio[2] < ratio[0], "Battaglia's Y-M is shallower than Arnaud's (Y ~ M^1.79 ... 1.78 at fixed z)"


def test_battaglia_sky_paints_its_own_y_and_shape(sky):
    """A battaglia12 sky: its table carries the shape, the painting conserves that Y and follows
    Battaglia's projected profile, not Arnaud's."""
    halo_cfg = dict(sky["halos"], m_vir_min=3e14, pressure_profile="battaglia12")
    rngs = np.random.default_rng(2), np.random.default_rng(3)
    table = simulate_halos(sky["cosmology"], halo_cfg, Footprint(0.0, 3.0, 0.0, 3.0), 0.0, *rngs)
    arnaud = simulate_halos(
        sky["cosmology"],
        dict(halo_cfg, pressure_profile="arnaud10"),
        Footprint(0.0, 3.0, 0.0, 3.0),
        0.0,
        np.random.default_rng(2),
        np.random.default_rng(3),
    )
    assert {"profile_xc_r500", "profile_beta"} <= set(table.columns)
    assert "profile_xc_r500" not in arnaud.columns
    np.testing.assert_array_equal(table["m500c"], arnaud["m500c"])
    assert not np.allclose(table["y5r500_arcmin2"], arnaud["y5r500_arcmin2"])
    halo = table.nlargest(1, "theta500_arcmin").assign(ra=30.0, dec=0.0)
    nside = 8192
    pix = Footprint(29.0, 31.0, -1.0, 1.0).pixels(nside)
    y, _, _ = paint_y_and_tau_v(halo, nside, pix, 5.0)
    omega = hp.nside2pixarea(nside, degrees=True) * 3600.0
    assert y.sum() * omega == pytest.approx(halo["y5r500_arcmin2"].iloc[0], rel=1e-6)
    ra, dec = hp.pix2ang(nside, pix, lonlat=True)
    r = np.hypot((ra - 30.0) * 60.0, dec * 60.0) / halo["theta500_arcmin"].iloc[0]
    x_b, pi_b = profiles.battaglia_table(
        float(halo["profile_xc_r500"].iloc[0]), float(halo["profile_beta"].iloc[0]), 5.0
    )
    x_a, pi_a = profiles.projected_table(5.0)
    inner, outer = (r > 0.3) & (r < 0.5), (r > 2.0) & (r < 3.0)
    painted = y[inner].mean() / y[outer].mean()
    battaglia = np.interp(r[inner], x_b, pi_b).mean() / np.interp(r[outer], x_b, pi_b).mean()
    arnaud_ratio = np.interp(r[inner], x_a, pi_a).mean() / np.interp(r[outer], x_a, pi_a).mean()
    assert painted == pytest.approx(battaglia, rel=0.02)
    assert abs(battaglia / arnaud_ratio - 1) > 0.1, "the two shapes differ"


def test_tsz_scale_scales_the_thermal_sz_linearly_and_not_the_ksz():
    nside = 2048
    pix = Footprint(29.0, 31.0, -1.0, 1.0).pixels(nside)
    halo = pd.DataFrame(
        {
            "ra": [30.0],
            "dec": [0.0],
            "theta500_arcmin": [2.0],
            "y5r500_arcmin2": [1e-3],
            "t_keV": [5.0],
            "v_los": [400.0],
        }
    )
    bands = [{"name": "090", "freq_ghz": 90.0, "beam_fwhm_arcmin": 0.0, "beam_file": None}]
    base = pipeline.sz_band_maps(halo, nside, pix, bands, 5.0, False)["090"]
    scaled = pipeline.sz_band_maps(halo, nside, pix, bands, 5.0, False, tsz_scale=0.75)["090"]
    np.testing.assert_allclose(scaled[0], 0.75 * base[0], rtol=1e-12)
    assert np.abs(base[0]).max() > 0
    np.testing.assert_array_equal(scaled[1], base[1])


def test_battaglia_needs_a_simulated_sky_without_beams():
    cfg = shipped_config()
    cfg["sky"]["halos"]["pressure_profile"] = "battaglia12"
    validate_config(cfg)
    cfg["sky"]["bands"][0]["beam_fwhm_arcmin"] = 1.4
    with pytest.raises(ConfigError, match="battaglia12 is painted without beams"):
        validate_config(cfg)
