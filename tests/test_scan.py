"""Scan-synchronous filter: exact per-scan operations, its measured transfer on MF tiles, the MF with it."""

from __future__ import annotations

import copy
import dataclasses

import healpy as hp
import numpy as np
import pytest

from skyhunt import io
from skyhunt.mf.filter import FlatGrid, MatchedFilter
from skyhunt.mf.pointsources import subtract_sources
from skyhunt.mf.readers import read_scan_transfer
from skyhunt.mf.search import SearchInputs, search, tile_spectra
from skyhunt.mf.transfer import measure_scan_transfer, tile_layout, write_scan_transfer
from skyhunt.sky.components import white_noise_sigma_uk
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.scan import filter_scans, highpass_response, scan_segments
from skyhunt.sky.sources import paint_sources

from .conftest import shipped_config
from .test_mf import _near, beta_on_healpix, one_radio_source, toy_cmb

NSIDE = 2048
FOOTPRINT = Footprint(10.0, 14.0, 3.0, 7.0)


@pytest.fixture(scope="module")
def scans():
    """Pixels of a 4 x 4 deg box at nside 2048, their segments and each pixel's index along its scan."""
    pixels = FOOTPRINT.pixels(NSIDE)
    start, length, ring = scan_segments(NSIDE, pixels)
    seg = np.repeat(np.arange(start.size), length)
    pos = np.arange(pixels.size) - start[seg]
    _, ringpix, cos_theta, _, _ = hp.ringinfo(NSIDE, ring)
    ell_unit = ringpix / np.sqrt(1.0 - cos_theta**2)  # ell_x of one period per segment, times n
    return {"pixels": pixels, "seg": seg, "pos": pos, "n": length, "ell_unit": ell_unit}


def wave(scans, j):
    """Per scan, a cosine of ``j`` whole periods along the segment, with a random phase per scan."""
    phase = np.random.default_rng(j).uniform(0, 2 * np.pi, scans["n"].size)[scans["seg"]]
    n = scans["n"][scans["seg"]]
    return np.cos(2 * np.pi * j * scans["pos"] / n + phase)


def test_scans_are_one_segment_per_ring_and_other_footprints_fail(scans):
    ra, _ = hp.pix2ang(NSIDE, scans["pixels"], lonlat=True)
    # each segment spans the box in RA, to within one pixel spacing
    for s in (0, scans["n"].size // 2, scans["n"].size - 1):
        seg_ra = ra[scans["seg"] == s]
        assert seg_ra.min() - FOOTPRINT.ra_min < 360.0 / (4 * NSIDE)
        assert FOOTPRINT.ra_max - seg_ra.max() < 360.0 / (4 * NSIDE)
    holed = np.delete(scans["pixels"], scans["pixels"].size // 2 + 10)  # inside a segment
    with pytest.raises(ValueError, match="contiguous segment"):
        scan_segments(NSIDE, holed)


def test_polynomial_removed_exactly_and_highpass_keeps_modes_above_the_cut(scans):
    rng = np.random.default_rng(1)
    ra, dec = hp.pix2ang(NSIDE, scans["pixels"], lonlat=True)
    coef = rng.normal(size=(3, scans["n"].size))[:, scans["seg"]]  # a different quadratic per scan
    poly = coef[0] * 50 + coef[1] * 10 * (ra - 12.0) + coef[2] * (ra - 12.0) ** 2
    out = filter_scans(
        NSIDE, scans["pixels"], poly, {"poly_order": 2, "highpass_ell_x": 0.0, "taper_ell": 0.0}
    )
    assert np.max(np.abs(out)) < 1e-10 * np.max(np.abs(poly))
    # order 1 leaves the quadratic's curvature
    out1 = filter_scans(
        NSIDE, scans["pixels"], poly, {"poly_order": 1, "highpass_ell_x": 0.0, "taper_ell": 0.0}
    )
    assert np.std(out1) > 0.1 * np.std(coef[2] * (ra - 12.0) ** 2)

    cfg = {"poly_order": -1, "highpass_ell_x": 2000.0, "taper_ell": 1000.0}
    ell_x = scans["ell_unit"][scans["seg"]] / scans["n"][scans["seg"]]  # ell_x of one period per scan
    for j in (10, 24, 28, 32, 44):  # ell_x ~ 900 (removed), 2170, 2530, 2900 (taper), 3980 (kept)
        x = wave(scans, j)
        expect = highpass_response(j * ell_x, 2000.0, 1000.0) * x
        np.testing.assert_allclose(filter_scans(NSIDE, scans["pixels"], x, cfg), expect, atol=1e-10)
    assert highpass_response(44 * ell_x, 2000.0, 1000.0).min() == 1.0
    assert 0.1 < highpass_response(28 * ell_x, 2000.0, 1000.0).max() < 0.9
    assert highpass_response(10 * ell_x, 2000.0, 1000.0).max() == 0.0


def test_filter_is_linear_and_maps_are_filtered_alike(scans):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2, scans["pixels"].size))
    cfg = {"poly_order": 3, "highpass_ell_x": 1500.0, "taper_ell": 500.0}
    fx, fy = (filter_scans(NSIDE, scans["pixels"], v, cfg) for v in (x, y))
    np.testing.assert_allclose(
        filter_scans(NSIDE, scans["pixels"], 2.0 * x - 3.0 * y, cfg), 2 * fx - 3 * fy, atol=1e-10
    )
    both = filter_scans(NSIDE, scans["pixels"], np.stack([x, y], axis=1), cfg)
    np.testing.assert_allclose(both, np.stack([fx, fy], axis=1), atol=1e-12)
    # it removes power: white noise loses about the fraction of ell_x modes below the cut
    assert 0.2 < np.var(fx) / np.var(x) < 0.95


def test_bright_source_subtracted_from_filtered_maps_leaves_no_residual(scans):
    bands = shipped_config()["sky"]["bands"]
    src = one_radio_source(12.0, 5.0)
    pixels = scans["pixels"]
    cfg = {"poly_order": 1, "highpass_ell_x": 1000.0, "taper_ell": 300.0}
    painted = np.stack([paint_sources(src, "radio", b, NSIDE, pixels) for b in bands], axis=1)
    maps = filter_scans(NSIDE, pixels, painted, cfg).astype(np.float32)
    peak = np.max(np.abs(painted))
    clean = subtract_sources(maps.copy(), pixels, NSIDE, src, bands, ["radio"], cfg)
    assert np.max(np.abs(clean)) < 1e-5 * peak
    # subtracting the unfiltered source leaves the modes the filter removed, along the source's scan
    unfiltered = subtract_sources(maps.copy(), pixels, NSIDE, src, bands, ["radio"])
    assert np.max(np.abs(unfiltered)) > 0.01 * peak


TILES = {"core_deg": 1.5, "overlap_deg": 0.25, "pixel_arcmin": 0.5, "apodization_arcmin": 5.0}


def test_measured_transfer_matches_the_highpass_on_tiles(tmp_path):
    """White fields through the filter, onto the tiles: T(k) = H(|k_x|) (no k_y dependence), P >= T^2."""
    fp = Footprint(10.0, 13.0, 3.0, 6.0)
    cut, taper = 2000.0, 1000.0
    cfg = {"poly_order": -1, "highpass_ell_x": cut, "taper_ell": taper}
    st = measure_scan_transfer(4096, fp, cfg, TILES, 4, np.random.default_rng(3))
    grid = FlatGrid(st.npix, st.npix, st.pixel_arcmin)
    ky, kx = grid.wavenumbers()
    assert st.transfer.shape == (2, *kx.shape)
    assert np.all(st.power >= st.transfer**2 - 1e-12)
    band = np.abs(ky[:, 0]) < 6000.0  # rows of k_y in the HEALPix band
    t_kx = st.transfer[:, band].mean(axis=1)  # (rows, kx): mean over k_y
    h = highpass_response(kx[0], cut, taper)
    below, above, taper_modes = (
        kx[0] < cut - 500,
        (kx[0] > cut + taper + 500) & (kx[0] < 7000),
        h * (1 - h) > 0.1,
    )
    assert np.max(np.abs(t_kx[:, below])) < 0.05
    assert np.min(t_kx[:, above]) > 0.95
    assert np.max(np.abs(t_kx[:, taper_modes] - h[taper_modes])) < 0.1
    # the same along k_y: no dependence on k_y beyond the estimate's noise
    assert np.std(st.transfer[0][band][:, above]) < 0.05

    path = tmp_path / "scan_transfer.fits"
    write_scan_transfer(path, st, {"POLYORD": (-1, "test")})
    back = read_scan_transfer(path, tile_layout(fp, TILES))
    np.testing.assert_array_equal(back.transfer, st.transfer)
    np.testing.assert_array_equal(back.dec0_deg, st.dec0_deg)
    with pytest.raises(io.InputFileError, match="other tiles"):
        read_scan_transfer(path, tile_layout(fp, {**TILES, "core_deg": 1.0}))


def test_mf_recovers_filtered_cluster_only_with_the_transfer():
    """A cluster in scan-filtered maps: y0 within 5 % with T in the MF, biased low without it."""
    cfg = shipped_config()
    sky = copy.deepcopy(cfg["sky"])
    nside, bands = sky["nside"], sky["bands"]
    fp = Footprint(20.0, 21.2, 2.0, 3.2)
    pixels = fp.pixels(nside)
    mf = copy.deepcopy(cfg["mf"])
    mf["tiles"].update(core_deg=0.6, overlap_deg=0.25, apodization_arcmin=3.0)
    scan_cfg = {"poly_order": 1, "highpass_ell_x": 1500.0, "taper_ell": 500.0}
    st = measure_scan_transfer(nside, fp, scan_cfg, mf["tiles"], 8, np.random.default_rng(5))
    inp = SearchInputs(nside, fp, bands, None, mf, toy_cmb(), ["cmb", "tsz"], scan_transfer=st)
    bare = dataclasses.replace(inp, scan_transfer=None)
    ra0, dec0 = 20.3, 2.3  # in the middle of a tile core
    grid = FlatGrid(st.npix, st.npix, st.pixel_arcmin)
    tile_dec0 = st.dec0_deg[0]
    signal, n_model = tile_spectra(inp, grid, tile_dec0)
    sigma = MatchedFilter(grid, n_model, signal).sigma
    y0 = 50.0 * sigma[3]
    rng = np.random.default_rng(6)
    noise_maps = np.stack(
        [rng.standard_normal(pixels.size) * white_noise_sigma_uk(b["noise_uk_arcmin"], nside) for b in bands],
        axis=1,
    )
    observed = filter_scans(
        nside, pixels, noise_maps + beta_on_healpix(nside, pixels, ra0, dec0, 1.0, y0, bands), scan_cfg
    )
    observed = observed.astype(np.float32)
    found = {}
    for name, search_inp in (("with", inp), ("without", bare)):
        near = _near(search(observed, pixels, search_inp), ra0, dec0, 2.0)
        assert len(near) == 1
        found[name] = near.iloc[0]
    assert found["with"]["y0"] == pytest.approx(y0, rel=0.05)
    assert found["without"]["y0"] < 0.85 * y0
