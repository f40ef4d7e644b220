"""Halo light cone and SZ painting: counts, scaling relations, integrated Y, band ratios."""

import healpy as hp
import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.sky import components, pipeline, profiles, spectra
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import HALO_UNITS, LightCone, scatter_y, simulate_halos
from skyhunt.sky.sz import paint_y_and_tau_v

from .conftest import shipped_config, small_config


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
    halos = simulate_halos(
        sky["cosmology"], halo_cfg, fp, 0.5, np.random.default_rng(2), np.random.default_rng(3)
    )
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
    y, tau_v, _ = paint_y_and_tau_v(halo, nside, pix, truncation=5.0)
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
    inside, _, _ = paint_y_and_tau_v(_single_halo(3.0, 1e-3, ra=31.0), nside, pix, 5.0)
    whole_pix = Footprint(29.0, 33.0, -1.0, 1.0).pixels(nside)
    whole, _, _ = paint_y_and_tau_v(_single_halo(3.0, 1e-3, ra=31.0), nside, whole_pix, 5.0)
    # half the cluster lies in the footprint, with the same pixel values as in the larger one
    assert 0.4 < inside.sum() / whole.sum() < 0.6
    np.testing.assert_allclose(inside, whole[np.searchsorted(whole_pix, pix)])


# ---------------------------------------------------------------------------------------------
# log-normal intrinsic scatter of the Y-M relation (sky.halos.y_scatter_ln)


#: Halo table columns without Y-M scatter: all but the mean-relation Y (the realised Y is the mean).
#: the Battaglia shape columns are only there with sky.halos.pressure_profile: battaglia12
SHAPE_COLUMNS = ("profile_xc_r500", "profile_beta")
ARNAUD_COLUMNS = [c for c in HALO_UNITS if c not in SHAPE_COLUMNS]
NO_SCATTER_COLUMNS = [c for c in ARNAUD_COLUMNS if c != "y5r500_mean_arcmin2"]


def _scattered_halos(sky, sigma, size_deg=4.0, m_vir_min=1e13, scatter_seed=3):
    halo_cfg = dict(sky["halos"], m_vir_min=m_vir_min, y_scatter_ln=sigma)
    return simulate_halos(
        sky["cosmology"],
        halo_cfg,
        Footprint(0.0, size_deg, 0.0, size_deg),
        0.0,
        np.random.default_rng(2),
        np.random.default_rng(scatter_seed),
    )


def test_y_scatter_is_lognormal_about_the_median_and_mass_independent(sky):
    """ln(Y / Y_mean) ~ N(0, 0.2^2) at every mass: nemo's median-preserving convention."""
    sigma = 0.2
    halos = _scattered_halos(sky, sigma)
    n = len(halos)
    assert n > 10000
    ln_ratio = np.log(halos["y5r500_arcmin2"] / halos["y5r500_mean_arcmin2"]).to_numpy()
    # statistical errors of the sample mean and standard deviation of n normal draws
    assert abs(ln_ratio.mean()) < 4 * sigma / np.sqrt(n), ln_ratio.mean()
    assert abs(ln_ratio.std(ddof=1) - sigma) < 4 * sigma / np.sqrt(2 * (n - 1)), ln_ratio.std(ddof=1)
    # the mean of Y itself is biased high by exp(sigma^2 / 2): the scatter keeps the median, not the mean
    ratio = np.exp(ln_ratio)
    assert ratio.mean() == pytest.approx(np.exp(sigma**2 / 2), abs=4 * ratio.std() / np.sqrt(n))
    # no trend with mass, and the same width in the lower and upper mass halves
    ln_m = np.log(halos["m500c"].to_numpy())
    slope = np.polyfit(ln_m, ln_ratio, 1)[0]
    assert abs(slope) < 4 * sigma / (np.sqrt(n) * ln_m.std()), slope
    low = ln_m < np.median(ln_m)
    for part in (ln_ratio[low], ln_ratio[~low]):
        assert abs(part.std(ddof=1) - sigma) < 4 * sigma / np.sqrt(2 * (part.size - 1))


def test_y_scatter_changes_only_y_and_follows_its_seed(sky):
    """Turning the scatter on moves no halo; the same scatter seed gives the same Y, another a new one."""
    mean = _scattered_halos(sky, 0.0, 2.0)
    first = _scattered_halos(sky, 0.2, 2.0)
    again = _scattered_halos(sky, 0.2, 2.0)
    other = _scattered_halos(sky, 0.2, 2.0, scatter_seed=4)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(
        first[list(mean.columns)].drop(columns="y5r500_arcmin2"), mean.drop(columns="y5r500_arcmin2")
    )
    np.testing.assert_array_equal(first["y5r500_mean_arcmin2"], mean["y5r500_arcmin2"])
    np.testing.assert_array_equal(other["y5r500_mean_arcmin2"], mean["y5r500_arcmin2"])
    # independent draws: ln(Y_1 / Y_2) has width sqrt(2) sigma, far from 0
    ln_12 = np.log(first["y5r500_arcmin2"] / other["y5r500_arcmin2"])
    assert ln_12.std() == pytest.approx(np.sqrt(2) * 0.2, rel=0.1)


def test_no_scatter_is_the_mean_relation_and_draws_nothing(sky):
    """sigma = 0 (the default) keeps the halo table of before: its columns, the mean Y, no draw."""
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    y_mean = np.array([1e-5, 2e-4])
    assert scatter_y(y_mean, 0.0, rng) is y_mean
    assert rng.bit_generator.state == state
    halos = _scattered_halos(sky, 0.0, 1.0)
    assert list(halos.columns) == NO_SCATTER_COLUMNS
    props = profiles.arnaud_halo_properties(
        colossus(sky["cosmology"]),
        halos["m500c"].to_numpy(),
        halos["z"].to_numpy(),
        sky["halos"]["truncation_r500"],
    )
    np.testing.assert_array_equal(halos["y5r500_arcmin2"], props["y_arcmin2"])


@pytest.mark.parametrize(("sigma", "relativistic"), [(0.0, False), (0.5, False), (0.0, True)])
def test_run_halos_units_and_painted_maps_carry_the_realised_y(tmp_path, sigma, relativistic):
    """The pipeline paints each halo's realised Y, tSZ and isothermal kSZ alike, and records the mean.

    With relativistic tSZ, each halo's Y is seen with its own gas temperature's spectrum."""
    cfg = small_config(nside=2048, size_deg=1.0)
    sky = cfg["sky"]
    sky["halos"].update(m_vir_min=1e14, y_scatter_ln=sigma)
    halos_path = tmp_path / "halos.parquet"
    pipeline.run_halos(
        footprint=sky["footprint"],
        margin_deg=sky["margin_deg"],
        cosmology=sky["cosmology"],
        halo_model=sky["halos"],
        seed=cfg["seed"],
        halos=halos_path,
    )
    halos, units = io.read_table(halos_path)
    assert units == {c: HALO_UNITS[c] for c in (ARNAUD_COLUMNS if sigma else NO_SCATTER_COLUMNS)}
    assert list(halos.columns) == list(units)
    band = sky["bands"][1]
    tsz, ksz = tmp_path / "tsz.fits", tmp_path / "ksz.fits"
    pipeline.run_sz_maps(
        footprint=sky["footprint"],
        nside=sky["nside"],
        bands=[band],
        truncation_r500=sky["halos"]["truncation_r500"],
        relativistic_tsz=relativistic,
        pressure_profile="arnaud10",
        tsz_scale=1.0,
        halos=halos_path,
        tsz=[tsz],
        ksz=[ksz],
    )
    t_map = io.read_partial_map(tsz)[1].astype(float)
    k_map = io.read_partial_map(ksz)[1].astype(float)
    f_nonrel = float(spectra.tsz_spectrum(band["freq_ghz"]))
    y_map = t_map / components.tsz_map(np.ones(1), band["freq_ghz"])[0]
    tau_v_map = k_map / components.ksz_map(np.ones(1))[0]
    # each halo's share of the footprint, from painting it alone with unit Y
    pixels = Footprint.from_config(sky["footprint"]).pixels(sky["nside"])
    omega_pix = hp.nside2pixarea(sky["nside"], degrees=True) * 3600.0
    unit = halos.assign(y5r500_arcmin2=1.0)
    truncation = sky["halos"]["truncation_r500"]
    share = np.array(
        [
            paint_y_and_tau_v(unit.iloc[[i]], sky["nside"], pixels, truncation)[0].sum() * omega_pix
            for i in range(len(unit))
        ]
    )
    assert share.max() == pytest.approx(1.0, rel=1e-6) and share.sum() > 3
    y_real = halos["y5r500_arcmin2"].to_numpy()
    tau_per_y = profiles.MEC2_KEV / halos["t_keV"].to_numpy() * halos["v_los"].to_numpy() / 299792.458
    # spectrum of each halo relative to the non-relativistic one (1 without the correction)
    g = spectra.relativistic_tsz_spectrum(band["freq_ghz"], halos["t_keV"].to_numpy()) / f_nonrel
    g = g if relativistic else np.ones_like(g)
    assert y_map.sum() * omega_pix == pytest.approx(np.sum(share * y_real * g), rel=1e-5)
    if relativistic:  # the hot halos' decrements are measurably smaller
        assert np.sum(share * y_real * g) / np.sum(share * y_real) < 1 - 1e-3
    tau_v_scale = np.sum(share * y_real * np.abs(tau_per_y))
    assert tau_v_map.sum() * omega_pix == pytest.approx(
        np.sum(share * y_real * tau_per_y), abs=1e-5 * tau_v_scale
    )
    if sigma:
        y_mean = halos["y5r500_mean_arcmin2"].to_numpy()
        # the mean relation would give another total, far beyond the painting's precision
        assert abs(np.sum(share * y_real) / np.sum(share * y_mean) - 1.0) > 1e-3
