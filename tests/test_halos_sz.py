"""Halo light cone and SZ painting: counts, scaling relations, integrated Y, band ratios."""

import healpy as hp
import numpy as np
import pandas as pd
import pytest

from skyhunt.sky import components, profiles
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import LightCone, simulate_halos
from skyhunt.sky.sz import paint_y_and_tau_v

from .conftest import shipped_config


@pytest.fixture(scope="module")
def sky():
    return shipped_config()["sky"]


@pytest.mark.parametrize(("m_cut", "z_cut"), [(2e14, 0.25), (5e14, 0.0), (1.5e14, 1.5)])
def test_halo_counts_match_mass_function(sky, m_cut, z_cut):
    halo_cfg = dict(sky["halos"], m_vir_min=1e14)
    lc = LightCone(sky["cosmology"], halo_cfg)
    omega = 1000.0 * (np.pi / 180.0) ** 2
    z, m = lc.sample(omega, np.random.default_rng(int(m_cut / 1e12) + int(10 * z_cut)))
    n = np.sum((m >= m_cut) & (z >= z_cut))
    expected = lc.expected_count(omega, m_cut, z_cut)
    assert abs(n - expected) < 3.5 * np.sqrt(expected), (n, expected)


def test_deepsz_cluster_density(sky):
    """About 3.4 halos per deg^2 with M_vir >= 2e14 M_sun and z >= 0.25 (issue #2; DeepSZ 1.2)."""
    lc = LightCone(sky["cosmology"], sky["halos"])
    per_deg2 = lc.expected_count((np.pi / 180.0) ** 2, 2e14, 0.25)
    assert 2.8 < per_deg2 < 4.0


def test_halo_table(sky):
    fp = Footprint(0.0, 3.0, 0.0, 3.0)
    halo_cfg = dict(sky["halos"], m_vir_min=5e13)
    halos = simulate_halos(sky["cosmology"], halo_cfg, fp, 0.5, np.random.default_rng(2))
    assert (halos["m500c"] < halos["m_vir"]).all()
    assert ((halos["z"] > 0) & (halos["z"] <= halo_cfg["z_max"])).all()
    assert fp.padded(0.5).contains(halos["ra"], halos["dec"]).all()
    assert halos["in_footprint"].sum() < len(halos)
    assert halos["v_los"].std() == pytest.approx(halo_cfg["v_los_sigma_km_s"], rel=0.1)
    assert halos["halo_id"].is_unique


def test_arnaud_y_m500_relation():
    """Y_sph(R500) of the projected profile reproduces Arnaud et al. (2010) eq. 25."""
    cosmo = colossus({"H0": 70.0, "Om0": 0.3, "Ob0": 0.045, "sigma8": 0.8, "ns": 0.96})
    m500 = np.array([1e14, 3e14, 1e15])
    z = np.array([0.1, 0.5, 1.0])
    props = profiles.arnaud_halo_properties(cosmo, m500, z, truncation=1.0)
    d_a = cosmo.angularDiameterDistance(z) / 0.7  # Mpc
    y_sr = props["y_arcmin2"] / (180.0 * 60.0 / np.pi) ** 2
    lhs = y_sr * d_a**2 * cosmo.Ez(z) ** (-2.0 / 3.0)
    np.testing.assert_allclose(lhs, 10**-4.739 * (m500 / 3e14) ** 1.787, rtol=0.03)
    # Y(5 R500) / Y(R500) = 1.81 (Arnaud et al. 2010, section 6.1), within our quadrature
    y5 = profiles.arnaud_halo_properties(cosmo, m500, z, truncation=5.0)["y_arcmin2"]
    np.testing.assert_allclose(y5 / props["y_arcmin2"], 1.81, rtol=0.015)


def test_projected_table_integrates_to_spherical():
    x, pi = profiles.projected_table(5.0)
    cylinder = 2.0 * np.pi * np.trapezoid(pi * x, x)
    assert cylinder == pytest.approx(profiles.spherical_integral(5.0), rel=1e-3)


def _single_halo(theta500_arcmin, y_arcmin2, ra=30.0, dec=0.0, v_los=500.0, t_kev=5.0):
    return pd.DataFrame(
        {
            "ra": [ra],
            "dec": [dec],
            "theta500_arcmin": [theta500_arcmin],
            "y5r500_arcmin2": [y_arcmin2],
            "t_keV": [t_kev],
            "v_los": [v_los],
        }
    )


@pytest.mark.parametrize("theta500", [0.3, 1.0, 4.0])
def test_painted_cluster_integrates_to_y_with_right_bands(theta500):
    nside = 8192
    y_tot = 1e-3  # arcmin^2
    pix = Footprint(29.0, 31.0, -1.0, 1.0).pixels(nside)
    halo = _single_halo(theta500, y_tot)
    y, tau_v = paint_y_and_tau_v(halo, nside, pix, truncation=5.0)
    omega_arcmin2 = hp.nside2pixarea(nside, degrees=True) * 3600.0
    assert y.sum() * omega_arcmin2 == pytest.approx(y_tot, rel=1e-6)
    # the profile shape before flux normalisation: a resolved cluster's peak matches the analytic y0 Pi(0)
    if theta500 >= 1.0:
        x_tab, pi_tab = profiles.projected_table(5.0)
        y_sr = y_tot / (180 * 60 / np.pi) ** 2
        theta500_rad = np.radians(theta500 / 60.0)
        y0 = y_sr / (theta500_rad**2 * 2 * np.pi * np.trapezoid(pi_tab * x_tab, x_tab))
        ra, dec = hp.pix2ang(nside, pix, lonlat=True)
        r = np.hypot((ra - 30.0) * 60.0, dec * 60.0) / theta500
        sel = (r > 0.5) & (r < 3.0)
        ratio = y[sel] / (y0 * np.interp(r[sel], x_tab, pi_tab))
        np.testing.assert_allclose(ratio, 1.0, rtol=0.03)
    t90, t148, t219 = (components.tsz_map(y, f) for f in (90.0, 148.0, 219.0))
    assert t90.min() < 0 and t148.min() < 0, "decrement below the null"
    assert t90.sum() / t148.sum() == pytest.approx(1.633, rel=0.01)
    assert abs(t219.sum()) < 0.03 * abs(t90.sum()), "219 GHz near the SZ null"
    # kSZ: receding cluster -> decrement, tau = y m_e c^2 / kT
    ksz = components.ksz_map(tau_v)
    assert ksz.sum() < 0
    expected = y.sum() * profiles.MEC2_KEV / 5.0 * 500.0 / 299792.458
    assert tau_v.sum() == pytest.approx(expected, rel=1e-9)


def test_halo_outside_footprint_paints_only_its_overlap():
    nside = 4096
    pix = Footprint(29.0, 31.0, -1.0, 1.0).pixels(nside)
    inside, _ = paint_y_and_tau_v(_single_halo(3.0, 1e-3, ra=31.0), nside, pix, 5.0)
    whole_pix = Footprint(29.0, 33.0, -1.0, 1.0).pixels(nside)
    whole, _ = paint_y_and_tau_v(_single_halo(3.0, 1e-3, ra=31.0), nside, whole_pix, 5.0)
    # half the cluster lies in the footprint, with the same pixel values as in the larger one
    assert 0.4 < inside.sum() / whole.sum() < 0.6
    np.testing.assert_allclose(inside, whole[np.searchsorted(whole_pix, pix)])
