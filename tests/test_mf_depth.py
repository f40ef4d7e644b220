"""Matched filter on red noise with a non-uniform depth: the SNR maps are unit-variance everywhere."""

from __future__ import annotations

import copy

import healpy as hp
import numpy as np
import pytest
import scipy.fft

from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.mf.filter import FlatGrid
from skyhunt.mf.search import SearchInputs, local_noise, tile_depth, tile_filter, tile_maps
from skyhunt.mf.tiles import make_layout
from skyhunt.sky import components
from skyhunt.sky.depth import depth_ivar
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.instrument import white_noise_sigma_uk

from .conftest import shipped_config

NSIDE = 8192
# red_ell_min at the scale of the 1.1 deg tiles (ell ~ 330): power on larger scales would leak
# into the tiles through their apodization, outside the model (config check in skyhunt.config)
RED = {"red_correlation": 0.9, "red_ell_min": 350.0, "red_cut_fraction": 0.01}


@pytest.fixture(scope="module")
def noise_patch():
    """A 2.4 x 1.2 deg patch of white + red noise, its ivar rising 4x from east to west."""
    cfg = shipped_config()
    bands = copy.deepcopy(cfg["sky"]["bands"])
    for band, knee in zip(bands, (600.0, 700.0, 500.0), strict=True):
        band.update(ell_knee=knee, alpha_knee=-3.5)
    fp = Footprint(20.0, 22.4, 2.0, 3.2)
    pixels = fp.pixels(NSIDE)
    ra = hp.pix2ang(NSIDE, pixels, lonlat=True)[0]
    weights = 1.0 + 3.0 * (ra - fp.ra_min) / (fp.ra_max - fp.ra_min)
    names = [b["name"] for b in bands]
    ivar = np.empty((pixels.size, len(bands)), dtype=np.float32)
    maps = np.empty_like(ivar)
    for k, band in enumerate(bands):
        ivar[:, k] = depth_ivar({"model": "file"}, band, NSIDE, pixels, weights)
        white = components.noise_map(band["noise_uk_arcmin"], NSIDE, pixels.size, np.random.default_rng(k))
        red = components.red_noise_map(band, names, RED, NSIDE, pixels, seed=3)
        sigma = white_noise_sigma_uk(band["noise_uk_arcmin"], NSIDE)
        maps[:, k] = (white + red) / (sigma * np.sqrt(ivar[:, k].astype(np.float64)))
    mf = copy.deepcopy(cfg["mf"])
    mf["tiles"].update(core_deg=0.6, overlap_deg=0.25, apodization_arcmin=3.0)
    mf["noise_model"].update(ksz_d3000_uk2=0.0, sz_background_d3000_uk2=0.0)
    inp = SearchInputs(NSIDE, fp, bands, None, mf, np.zeros(3), ["cmb"], red_noise=RED, ivar=ivar)
    return inp, pixels, maps


def _snr_maps(inp, pixels, maps, normalise=True):
    """SNR maps of every tile, as search_tile makes them, and the tile's relative depth r(x)."""
    layout = make_layout(inp.footprint, 0.6, 0.25, 0.25)
    grid = FlatGrid(layout.npix, layout.npix, 0.25)
    interp = PatchInterpolator(NSIDE, pixels)
    cache: dict = {}
    out = []
    for tile in layout.tiles:
        tmaps, weight = tile_maps(layout, tile, interp, maps, inp)
        depth = tile_depth(layout, tile, interp, inp, weight)
        maps_k = scipy.fft.rfft2(tmaps, axes=(-2, -1))
        mf = tile_filter(inp, grid, tile.dec0, maps_k, weight, cache, depth.white_uk_arcmin)
        snr = mf.snr(maps_k)
        if normalise:
            snr /= local_noise(inp, grid, tile.dec0, mf, depth, cache)
        # the 148 GHz depth relative to the tile's: > 1 deeper than the tile's mean
        rel = np.where(weight >= 1.0, depth.ivar[1] / np.mean(depth.ivar[1][weight > 0]), np.nan)
        out.append((snr, rel))
    return out


def _region_std(tiles, deep: bool):
    """Std of the SNR per scale over the pixels (weight 1) deeper or shallower than their tile."""
    vals = [snr[:, (rel > 1.15) if deep else (rel < 0.85)] for snr, rel in tiles]
    return np.concatenate(vals, axis=1).std(axis=1)


def test_snr_unit_variance_in_deep_and_shallow_regions(noise_patch):
    """Std 1 +- 0.05 at the scales up to 1' core, which the patch samples well; the larger
    scales see few independent red-noise modes in 3 deg^2 (their std scatters by ~0.1
    between realisations), so they are held to +- 0.15."""
    inp, pixels, maps = noise_patch
    tiles = _snr_maps(inp, pixels, maps)
    for deep in (True, False):
        std = _region_std(tiles, deep)
        assert np.all(np.abs(std[:4] - 1.0) < 0.05), (deep, std)
        assert np.all(np.abs(std - 1.0) < 0.15), (deep, std)


def test_without_local_normalisation_the_snr_follows_the_depth(noise_patch):
    """The check above can fail: the tile-mean model alone over- and under-states the noise."""
    inp, pixels, maps = noise_patch
    tiles = _snr_maps(inp, pixels, maps, normalise=False)
    assert np.all(_region_std(tiles, deep=True)[:4] < 0.95)
    assert np.all(_region_std(tiles, deep=False)[:4] > 1.05)


def test_variance_terms_sum_to_the_filter_variance():
    """The per-band-pair variance of the y0 estimate adds up to sigma^2 for the filter's own noise."""
    from skyhunt.mf import noise, templates
    from skyhunt.mf.filter import MatchedFilter
    from skyhunt.mf.search import sz_vector

    cfg = shipped_config()
    bands = copy.deepcopy(cfg["sky"]["bands"])
    bands[0].update(ell_knee=2000.0)
    bands[2].update(ell_knee=3000.0)
    grid = FlatGrid(128, 128, 0.5)
    ell = grid.ell()
    nmat = noise.instrument_noise(ell, bands, RED, NSIDE)
    assert nmat[0, 2].max() > 0 and np.all(nmat[0, 1] == 0)  # red terms correlate the red bands only
    bank = np.stack([templates.beta_model_ft(ell, s) for s in (0.5, 2.0)])
    mf = MatchedFilter(grid, nmat, bank[:, None] * sz_vector(bands)[None, :, None, None])
    np.testing.assert_allclose(mf.variance_terms(nmat).sum(axis=(1, 2)), mf.sigma**2, rtol=1e-5)
