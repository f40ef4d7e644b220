"""Instrument noise beyond white: red (atmospheric) noise correlated between bands, and depth maps."""

from __future__ import annotations

import copy

import healpy as hp
import numpy as np
import pytest
from scipy.optimize import curve_fit

from skyhunt import io
from skyhunt.config import ConfigError, validate_config
from skyhunt.sky import components, pipeline
from skyhunt.sky.depth import run_depth_map
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.gaussian_field import draw_unit_alm
from skyhunt.sky.instrument import ARCMIN, level_uk_arcmin, red_lmax

from .conftest import shipped_config

RED = {"red_correlation": 0.9, "red_ell_min": 30.0, "red_cut_fraction": 0.01}
FULL_SKY = {"ra_min": 0.0, "ra_max": 360.0, "dec_min": -90.0, "dec_max": 90.0}


def test_unit_alm_nested_in_lmax():
    """The unit coefficients up to ell = L are the same whatever lmax they are drawn to."""
    small = draw_unit_alm(100, np.random.default_rng(3))
    large = draw_unit_alm(300, np.random.default_rng(3))
    ell, m = hp.Alm.getlm(100)
    np.testing.assert_array_equal(small, large[hp.Alm.getidx(300, ell, m)])
    cl = hp.alm2cl(large)
    assert cl[2:].mean() == pytest.approx(1.0, abs=4 * np.sqrt(2.0 / 300**2))
    assert np.all(small[:101].imag == 0)


def make_red_maps(tmp, red: dict):
    """Full-sky noise maps of three bands at nside 512 with red noise, through run_noise_map."""
    nside = 512
    bands = [
        {"name": "a", "freq_ghz": 90.0, "noise_uk_arcmin": 20.0, "ell_knee": 300.0, "alpha_knee": -3.5},
        {"name": "b", "freq_ghz": 150.0, "noise_uk_arcmin": 25.0, "ell_knee": 250.0, "alpha_knee": -3.0},
        {"name": "c", "freq_ghz": 220.0, "noise_uk_arcmin": 40.0, "ell_knee": 320.0, "alpha_knee": -3.5},
    ]
    maps = []
    for band in bands:
        path = tmp / f"noise_{band['name']}.fits"
        pipeline.run_noise_map(
            footprint=FULL_SKY,
            nside=nside,
            band=band,
            seed=7,
            noise=path,
            band_names=[b["name"] for b in bands],
            red_noise=red,
        )
        pix, values, _ = io.read_partial_map(path)
        assert pix.size == hp.nside2npix(nside)
        maps.append(values.astype(np.float64))
    return nside, bands, maps


@pytest.fixture(scope="module")
def red_maps(tmp_path_factory):
    return make_red_maps(tmp_path_factory.mktemp("red"), RED)


def red_correlation(bands, maps, i, j) -> float:
    """Fitted correlation of the red noise of bands i and j, from cross-spectra where it dominates."""
    ell = np.arange(40, 150)
    cross = hp.anafast(maps[i], maps[j], lmax=ell[-1])[ell]
    red = [
        (b["noise_uk_arcmin"] * ARCMIN) ** 2 * (ell / b["ell_knee"]) ** b["alpha_knee"]
        for b in (bands[i], bands[j])
    ]
    return np.sum((2 * ell + 1) * cross) / np.sum((2 * ell + 1) * np.sqrt(red[0] * red[1]))


def _model(ell, n_white, ell_knee, alpha):
    return np.log(n_white * (1.0 + (ell / ell_knee) ** alpha))


def test_red_noise_spectrum_recovers_white_knee_and_alpha(red_maps):
    """anafast of the full-sky maps: fitted white level within 2 %, ell_knee within 5 %, alpha 0.1."""
    nside, bands, maps = red_maps
    lmax = 1200
    for band, m in zip(bands, maps, strict=True):
        assert red_lmax(band, RED, nside) < lmax  # the fit sees where the red part is cut
        cl = hp.anafast(m, lmax=lmax)
        ell = np.arange(lmax + 1)
        edges = np.arange(40, lmax + 1, 10)
        idx = np.digitize(ell, edges) - 1
        ok = (idx >= 0) & (idx < edges.size - 1)
        w = (2 * ell + 1.0)[ok]
        l_bin = np.bincount(idx[ok], w * ell[ok]) / np.bincount(idx[ok], w)
        c_bin = np.bincount(idx[ok], w * cl[ok]) / np.bincount(idx[ok], w)
        n_white = (band["noise_uk_arcmin"] * ARCMIN) ** 2
        fit, _ = curve_fit(_model, l_bin, np.log(c_bin), p0=(n_white * 1.3, 200.0, -2.5))
        assert fit[0] == pytest.approx(n_white, rel=0.02)
        assert fit[1] == pytest.approx(band["ell_knee"], rel=0.05)
        assert fit[2] == pytest.approx(band["alpha_knee"], abs=0.1)
        # below red_ell_min the red power is held flat at its value at red_ell_min
        low = np.arange(2, int(RED["red_ell_min"]))
        flat = n_white * (RED["red_ell_min"] / band["ell_knee"]) ** band["alpha_knee"] + n_white
        ratio = np.sum((2 * low + 1) * cl[low]) / np.sum((2 * low + 1) * flat)
        assert ratio == pytest.approx(1.0, abs=0.15)


def test_red_noise_band_correlation(red_maps):
    """Cross-spectra at ell where red noise dominates: fitted correlation within 0.02 of 0.9."""
    nside, bands, maps = red_maps
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert red_correlation(bands, maps, i, j) == pytest.approx(RED["red_correlation"], abs=0.02)


def test_red_noise_correlated_only_within_a_group(tmp_path, red_maps):
    """Two optics tubes: a and b share their atmosphere, c sees its own; a's map is unchanged."""
    _, bands, maps = make_red_maps(tmp_path, {**RED, "red_correlation_groups": [["a", "b"]]})
    assert red_correlation(bands, maps, 0, 1) == pytest.approx(RED["red_correlation"], abs=0.02)
    assert abs(red_correlation(bands, maps, 0, 2)) < 0.05
    assert abs(red_correlation(bands, maps, 1, 2)) < 0.05
    np.testing.assert_array_equal(maps[0], red_maps[2][0])


def test_default_noise_is_white_noise_bit_for_bit(tmp_path):
    """No red noise, uniform depth: the map is today's white noise from the stream noise_<band>."""
    sky = shipped_config()["sky"]
    fp = {"ra_min": 10.0, "ra_max": 11.0, "dec_min": 0.0, "dec_max": 1.0}
    band = sky["bands"][1]
    assert band["ell_knee"] is None and sky["noise"]["depth"]["model"] == "uniform"
    pipeline.run_noise_map(
        footprint=fp,
        nside=2048,
        band=band,
        seed=5,
        noise=tmp_path / "n.fits",
        band_names=[b["name"] for b in sky["bands"]],
        red_noise=sky["noise"],
    )
    pixels, values, _ = io.read_partial_map(tmp_path / "n.fits")
    expected = components.noise_map(
        band["noise_uk_arcmin"], 2048, pixels.size, components.component_rng(5, "noise_148")
    )
    np.testing.assert_array_equal(values, expected.astype(np.float32))


DEPTH_FP = {"ra_min": 0.0, "ra_max": 40.0, "dec_min": 0.0, "dec_max": 75.0}
BAND = {"name": "148", "freq_ghz": 148.0, "noise_uk_arcmin": 30.0}


def _depth_and_noise(tmp_path, depth, weights=()):
    nside = 512
    run_depth_map(
        footprint=DEPTH_FP,
        nside=nside,
        band=BAND,
        depth=depth,
        weights=list(weights),
        ivar=tmp_path / "ivar.fits",
    )
    pixels, ivar, hdr = io.read_partial_map(tmp_path / "ivar.fits")
    assert hdr["TUNIT2"] == "uK-2" and hdr["COMPNT"] == "ivar"
    pipeline.run_noise_map(
        footprint=DEPTH_FP,
        nside=nside,
        band=BAND,
        seed=2,
        noise=tmp_path / "n.fits",
        ivar=[tmp_path / "ivar.fits"],
    )
    _, noise, _ = io.read_partial_map(tmp_path / "n.fits")
    return nside, pixels, ivar.astype(np.float64), noise.astype(np.float64)


def _check_variance_follows_ivar(ivar, noise):
    """In quintiles of ivar, the pixel variance of the noise times ivar is 1 (4 sigma)."""
    order = np.argsort(ivar)
    for part in np.array_split(order, 5):
        x = noise[part] ** 2 * ivar[part]
        assert x.mean() == pytest.approx(1.0, abs=4 * np.sqrt(2.0 / part.size))
    deep, shallow = order[-order.size // 5 :], order[: order.size // 5]
    assert np.var(noise[shallow]) / np.var(noise[deep]) > 1.5


def test_declination_depth(tmp_path):
    nside, pixels, ivar, noise = _depth_and_noise(tmp_path, {"model": "declination", "field": 0})
    dec = hp.pix2ang(nside, pixels, lonlat=True)[1]
    law = ivar * np.cos(np.radians(dec))
    np.testing.assert_allclose(law, law[0], rtol=1e-5)  # ivar ~ 1 / cos(dec)
    assert np.median(level_uk_arcmin(ivar, nside)) == pytest.approx(BAND["noise_uk_arcmin"], rel=1e-5)
    _check_variance_follows_ivar(ivar, noise)


def _weight_file(path, values):
    hp.write_map(path, values, dtype=np.float64, overwrite=True)
    return path


def test_file_depth(tmp_path):
    nside = 512
    ra, dec = hp.pix2ang(nside, np.arange(hp.nside2npix(nside)), lonlat=True)
    weights = 1.0 + 3.0 * np.clip(ra / 40.0, 0, 1) + 0.5 * np.sin(np.radians(4 * dec))
    path = _weight_file(tmp_path / "w_148.fits", weights)
    _, pixels, ivar, noise = _depth_and_noise(tmp_path, {"model": "file", "field": 0}, [path])
    ratio = ivar / weights[pixels]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
    assert np.median(level_uk_arcmin(ivar, nside)) == pytest.approx(BAND["noise_uk_arcmin"], rel=1e-5)
    _check_variance_follows_ivar(ivar, noise)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda w, inside: w.__setitem__(inside[5], 0.0), "zero"),
        (lambda w, inside: w.__setitem__(inside[5], -1.0), "negative"),
        (lambda w, inside: w.__setitem__(inside[5], np.nan), "missing"),
        (lambda w, inside: w.__setitem__(inside[5], hp.UNSEEN), "missing"),
    ],
)
def test_bad_weight_map_fails_naming_the_file(tmp_path, edit, message):
    nside = 512
    weights = np.ones(hp.nside2npix(nside))
    weights[Footprint.from_config(DEPTH_FP).pixels(nside)[:1]] = 2.0
    edit(weights, Footprint.from_config(DEPTH_FP).pixels(nside))
    weights[0] = 0.0  # outside the footprint: allowed
    path = _weight_file(tmp_path / "bad_148.fits", weights)
    with pytest.raises(io.InputFileError, match=f"bad_148.fits.*{message}|{message}.*bad_148.fits"):
        _depth_and_noise(tmp_path, {"model": "file", "field": 0}, [path])
    assert not (tmp_path / "ivar.fits").exists()


def test_weight_map_of_another_nside_fails(tmp_path):
    path = _weight_file(tmp_path / "w_148.fits", np.ones(hp.nside2npix(256)))
    with pytest.raises(io.InputFileError, match="w_148.fits has NSIDE=256"):
        _depth_and_noise(tmp_path, {"model": "file", "field": 0}, [path])


def test_noise_config_checks():
    cfg = copy.deepcopy(shipped_config())
    cfg["sky"]["noise"]["depth"]["model"] = "file"
    cfg["sky"]["bands"][0]["noise_uk_arcmin"] = 0.0
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert "sky.noise.depth.path_template" in str(err.value)
    assert "sky.bands[0].noise_uk_arcmin" in str(err.value)
    cfg = copy.deepcopy(shipped_config())
    cfg["sky"]["bands"][1]["ell_knee"] = 2000.0
    validate_config(cfg)  # the default red_ell_min 100 suits the default 4 deg tiles
    cfg["sky"]["noise"]["red_ell_min"] = 50.0
    with pytest.raises(ConfigError, match="sky.noise.red_ell_min"):
        validate_config(cfg)
    cfg = copy.deepcopy(shipped_config())
    cfg["sky"]["noise"]["red_correlation_groups"] = [["090", "148"], ["148", "220"]]
    with pytest.raises(
        ConfigError, match=r"red_correlation_groups.*not bands: \['220'\].*more than once: \['148'\]"
    ):
        validate_config(cfg)
