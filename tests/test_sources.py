"""Tests for skyhunt.sky.sources: counts normalisation, catalogue draws and painting."""

import copy

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.optimize import minimize_scalar
from scipy.stats import kstest, norm, truncpareto

from skyhunt.sky import sources as src
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.spectra import dbdt_jy_sr_per_k, jy_per_sr_to_uk_cmb

from .conftest import shipped_config


@pytest.fixture(scope="module")
def sky_cfg():
    """The shipped ``sky`` config: its tuned point-source values are under test."""
    return shipped_config()["sky"]


@pytest.fixture(scope="module")
def ps_cfg(sky_cfg):
    return sky_cfg["point_sources"]


@pytest.fixture(scope="module")
def bands(sky_cfg):
    return sky_cfg["bands"]


def _targets(bands):
    return np.array([b["ps_d3000_uk2"] for b in bands])


def _band(bands, name):
    return next(b for b in bands if b["name"] == name)


def test_expected_power_matches_direct_integration(ps_cfg, bands):
    # Independent check of the analytic moments: integrate S^2 dN/dS over flux and
    # (nu/nu0)^(2 alpha) over the Gaussian spectral index numerically.
    amplitudes = {"radio": 2.0e5, "ir": 3.0e6}
    expected = src.expected_d3000(ps_cfg, bands, amplitudes)
    nu0 = ps_cfg["ref_freq_ghz"]
    for k, band in enumerate(bands):
        c_ell_jy2 = 0.0
        for name, amp in amplitudes.items():
            pop = ps_cfg["populations"][name]
            s_min, s_max, slope = pop["s_min_mjy"], pop["s_max_mjy"], pop["slope"]
            norm_const = integrate.quad(lambda s, g=slope: s**-g, s_min, s_max)[0]
            s2 = integrate.quad(lambda s, g=slope: s ** (2 - g), s_min, s_max)[0] / norm_const
            mu, sigma = pop["spectral_index_mean"], pop["spectral_index_sigma"]
            spec = integrate.quad(
                lambda a, m=mu, sd=sigma, f=band["freq_ghz"]: norm.pdf(a, m, sd) * (f / nu0) ** (2 * a),
                mu - 10 * sigma,
                mu + 10 * sigma,
            )[0]
            c_ell_jy2 += amp * s2 * spec * 1e-6
        d3000 = 3000 * 3001 / (2 * np.pi) * c_ell_jy2 * jy_per_sr_to_uk_cmb(band["freq_ghz"]) ** 2
        assert expected[k] == pytest.approx(d3000, rel=1e-6)


def test_normalise_counts_recovers_known_amplitudes(ps_cfg, bands):
    truth = {"radio": 1.3e5, "ir": 4.1e6}
    exact = src.expected_d3000(ps_cfg, bands, truth)
    synthetic = [{**b, "ps_d3000_uk2": d} for b, d in zip(bands, exact, strict=True)]
    fitted = src.normalise_counts(ps_cfg, synthetic)
    for name in src.POPULATIONS:
        assert fitted[name] == pytest.approx(truth[name], rel=1e-8)


def test_config_fit_and_scatter_on_default_patch(sky_cfg, ps_cfg, bands):
    amplitudes = src.normalise_counts(ps_cfg, bands)
    assert all(a > 0 for a in amplitudes.values())
    np.testing.assert_allclose(src.expected_d3000(ps_cfg, bands, amplitudes), _targets(bands), rtol=0.02)
    # Requirement on the tuned counts: on the default (padded) patch the realised
    # power scatters by well under 10 % (from the S^4 moment).
    patch = Footprint.from_config(sky_cfg["footprint"]).padded(sky_cfg["margin_deg"])
    scatter = src.d3000_relative_scatter(ps_cfg, bands, amplitudes, patch.area_deg2)
    assert np.all(scatter < 0.05), scatter
    # Manageable catalogues: at most a few thousand sources per deg^2.
    assert sum(amplitudes.values()) * np.radians(1.0) ** 2 < 3000


def test_painted_maps_reproduce_target_power(ps_cfg, bands, sky_cfg):
    # A Poisson field deposited pixel by pixel is white: pixels hold independent
    # counts, so C_ell = Omega_pix * var(map) at every ell below the pixel scale.
    nside = 2048
    footprint = Footprint(20.0, 27.0, -3.5, 3.5)
    padded = footprint.padded(sky_cfg["margin_deg"])
    pixels = footprint.pixels(nside)
    sources = src.draw_sources(ps_cfg, bands, padded, None, np.random.default_rng(2021))
    for band, target in zip(bands, _targets(bands), strict=True):
        sky = src.paint_sources(sources, "radio", band, nside, pixels)
        sky += src.paint_sources(sources, "ir", band, nside, pixels)
        d3000 = 3000 * 3001 / (2 * np.pi) * hp.nside2pixarea(nside) * sky.var()
        assert d3000 == pytest.approx(target, rel=0.2), band["name"]


def _slope_mle(flux, s_min, s_max):
    """Maximum-likelihood power-law slope and its Fisher error for fixed truncation."""
    c = s_max / s_min

    def nll(b):
        return -truncpareto.logpdf(flux, b, c, scale=s_min).sum()

    b_hat = minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded", options={"xatol": 1e-8}).x
    u = c**-b_hat
    info = 1.0 / b_hat**2 - u * np.log(c) ** 2 / (1.0 - u) ** 2
    return b_hat + 1.0, 1.0 / np.sqrt(len(flux) * info)


def test_fluxes_follow_configured_counts(ps_cfg, bands):
    footprint = Footprint(30.0, 40.0, -5.0, 5.0)
    sources = src.draw_sources(ps_cfg, bands, footprint, None, np.random.default_rng(11))
    amplitudes = src.normalise_counts(ps_cfg, bands)
    omega = footprint.area_deg2 * np.radians(1.0) ** 2
    ref = _band(bands, "148")
    assert ref["freq_ghz"] == ps_cfg["ref_freq_ghz"]
    for name in src.POPULATIONS:
        pop = ps_cfg["populations"][name]
        sel = sources[sources["population"] == name]
        mean_n = amplitudes[name] * omega
        assert abs(len(sel) - mean_n) < 3 * np.sqrt(mean_n), name
        flux = sel[src.flux_column(ref)].to_numpy()
        assert flux.min() >= pop["s_min_mjy"] and flux.max() <= pop["s_max_mjy"]
        slope, err = _slope_mle(flux, pop["s_min_mjy"], pop["s_max_mjy"])
        assert abs(slope - pop["slope"]) < 3 * err, (name, slope, err)
        assert err < 0.05
        alpha = sel["spectral_index"].to_numpy()
        assert abs(alpha.mean() - pop["spectral_index_mean"]) < 4 * pop["spectral_index_sigma"] / np.sqrt(
            len(alpha)
        )
        for band in bands:
            np.testing.assert_allclose(
                sel[src.flux_column(band)], flux * (band["freq_ghz"] / ref["freq_ghz"]) ** alpha, rtol=1e-12
            )
        assert footprint.contains(sel["ra"], sel["dec"]).all()
        assert (sel["host_halo_id"] == -1).all()


def test_halo_hosted_sources(ps_cfg, bands):
    cfg = copy.deepcopy(ps_cfg)
    hosted = cfg["halo_hosted_radio"]
    hosted["probability"] = 0.3
    rng = np.random.default_rng(5)
    footprint = Footprint(50.0, 52.0, 10.0, 12.0)
    n_halo = 4000
    ra, dec = footprint.sample_uniform(n_halo, rng)
    halos = pd.DataFrame(
        {
            "halo_id": rng.permutation(np.arange(100, 100 + n_halo, dtype=np.int64)),
            "ra": ra,
            "dec": dec,
            "z": rng.uniform(0.1, 2.0, n_halo),
            "m_vir": 10 ** rng.uniform(13.0, 15.0, n_halo),
        }
    )
    sources = src.draw_sources(cfg, bands, footprint, halos, np.random.default_rng(6))
    hosted_src = sources[sources["host_halo_id"] >= 0]
    assert (hosted_src["population"] == "radio").all()
    assert hosted_src["host_halo_id"].is_unique
    matched = hosted_src.merge(halos, left_on="host_halo_id", right_on="halo_id", suffixes=("", "_halo"))
    assert len(matched) == len(hosted_src)
    np.testing.assert_array_equal(matched["ra"], matched["ra_halo"])
    np.testing.assert_array_equal(matched["dec"], matched["dec_halo"])
    assert (matched["m_vir"] >= hosted["m_vir_min"]).all()

    n_eligible = int((halos["m_vir"] >= hosted["m_vir_min"]).sum())
    p = hosted["probability"]
    assert abs(len(hosted_src) - p * n_eligible) < 3 * np.sqrt(n_eligible * p * (1 - p))

    radio = cfg["populations"]["radio"]
    flux = hosted_src[src.flux_column(_band(bands, "148"))].to_numpy()
    assert flux.min() >= hosted["s_min_mjy"] and flux.max() <= radio["s_max_mjy"]
    assert kstest(flux, src.flux_distribution(radio, hosted["s_min_mjy"]).cdf).pvalue > 1e-3


def test_single_source_integrates_to_flux(bands):
    nside = 4096
    pixels = Footprint(10.0, 11.0, -1.0, 1.0).pixels(nside)
    band = _band(bands, "090")
    col = src.flux_column(band)
    sources = pd.DataFrame(
        {
            "ra": [10.4, 10.4, 50.0, 10.6],
            "dec": [0.3, 0.3, 0.0, -0.2],
            "population": ["radio", "radio", "radio", "ir"],
            col: [7.5, 2.5, 100.0, 3.0],
        }
    )
    sky = src.paint_sources(sources, "radio", band, nside, pixels)
    assert sky.dtype == np.float64
    lit = np.flatnonzero(sky)
    assert lit.size == 1
    assert pixels[lit[0]] == hp.ang2pix(nside, 10.4, 0.3, lonlat=True)
    # Two sources share the pixel; the one at RA 50 lies outside and is dropped.
    flux_mjy = sky.sum() * hp.nside2pixarea(nside) * dbdt_jy_sr_per_k(band["freq_ghz"]) * 1e-6 * 1e3
    assert flux_mjy == pytest.approx(10.0, rel=1e-12)

    ir = src.paint_sources(sources, "ir", band, nside, pixels)
    assert ir.sum() * hp.nside2pixarea(nside) * dbdt_jy_sr_per_k(90.0) * 1e-3 == pytest.approx(3.0)

    with pytest.raises(ValueError, match="strictly increasing"):
        src.paint_sources(sources, "radio", band, nside, pixels[::-1])


def test_catalogue_is_reproducible_and_typed(ps_cfg, bands):
    footprint = Footprint(0.0, 2.0, 0.0, 2.0)
    halos = pd.DataFrame(
        {"halo_id": [3, 1], "ra": [0.5, 1.5], "dec": [0.5, 1.5], "z": [0.3, 0.6], "m_vir": [1e15, 2e15]}
    )
    first = src.draw_sources(ps_cfg, bands, footprint, halos, np.random.default_rng(42))
    again = src.draw_sources(ps_cfg, bands, footprint, halos, np.random.default_rng(42))
    other = src.draw_sources(ps_cfg, bands, footprint, halos, np.random.default_rng(43))
    pd.testing.assert_frame_equal(first, again)
    assert len(first) != len(other) or not first.equals(other)

    assert list(first.columns) == list(src.source_units(bands))
    assert first["source_id"].dtype == np.int64
    np.testing.assert_array_equal(first["source_id"], np.arange(len(first)))
    assert first["host_halo_id"].dtype == np.int64
    assert set(first["population"]) == {"radio", "ir"}
    assert pd.api.types.is_string_dtype(first["population"])
    assert src.source_units(bands)["flux_219_mjy"] == "mJy"


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("populations", "ir", "slope"), 1.0, "slope"),
        (("populations", "radio", "s_max_mjy"), 0.05, "s_min_mjy < s_max_mjy"),
        (("halo_hosted_radio", "s_min_mjy"), 1e4, "halo_hosted_radio.s_min_mjy"),
        (("halo_hosted_radio", "probability"), 1.5, "probability"),
    ],
)
def test_bad_config_is_rejected(ps_cfg, bands, path, value, match):
    cfg = copy.deepcopy(ps_cfg)
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValueError, match=match):
        src.normalise_counts(cfg, bands)
