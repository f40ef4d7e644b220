"""CMB: ring-restricted synthesis is exact, and a patch recovers the CAMB input spectrum."""

import healpy as hp
import numpy as np
import pytest

from skyhunt.sky import components
from skyhunt.sky.cosmology import lensed_tt_spectrum
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.gaussian_field import draw_alm, synthesize_on_pixels

from .conftest import shipped_config


def test_restricted_synthesis_equals_full_sky():
    nside, lmax = 256, 600
    cl = 1.0 / (np.arange(lmax + 1) + 10.0) ** 2
    alm = draw_alm(cl, np.random.default_rng(3))
    pix = Footprint(10.0, 60.0, -20.0, 30.0).pixels(nside)
    part = synthesize_on_pixels(alm, nside, pix, rings_per_chunk=37)
    full = hp.alm2map(alm, nside, lmax=lmax)
    np.testing.assert_allclose(part, full[pix], atol=1e-10 * full.std())


def test_draw_alm_has_input_spectrum():
    lmax = 1000
    cl = 1.0 / (np.arange(lmax + 1) + 30.0) ** 2.5
    est = hp.alm2cl(draw_alm(cl, np.random.default_rng(5)))
    ell = np.arange(lmax + 1)
    # sum over ell of (2l+1) C_l-hat / C_l: chi^2-like with sum(2l+1) dof
    ratio = np.sum((2 * ell[2:] + 1) * est[2:] / cl[2:]) / np.sum(2 * ell[2:] + 1)
    assert ratio == pytest.approx(1.0, abs=4 * np.sqrt(2.0 / np.sum(2 * ell[2:] + 1)))


@pytest.fixture(scope="module")
def camb_cl():
    return lensed_tt_spectrum(shipped_config()["sky"]["cosmology"], 1500)


def test_camb_spectrum_is_lensed_lcdm(camb_cl):
    ell = np.arange(camb_cl.size)
    dl = ell * (ell + 1) * camb_cl / (2 * np.pi)
    peak = np.argmax(dl[:400])
    assert 200 <= peak <= 235, "first acoustic peak near ell = 220"
    assert 5000 < dl[peak] < 6500  # µK^2


def test_cmb_patch_power_spectrum_matches_camb(camb_cl):
    """Pseudo-C_ell of an apodised 30 x 30 deg patch equals the CAMB input within sample variance."""
    nside = 512
    fp = Footprint(100.0, 130.0, -15.0, 15.0)
    pix = fp.pixels(nside)
    cmb = components.cmb_maps(camb_cl, [{"name": "148"}], nside, pix, np.random.default_rng(11))["148"]
    ra, dec = hp.pix2ang(nside, pix, lonlat=True)
    edge = np.minimum.reduce([ra - fp.ra_min, fp.ra_max - ra, dec - fp.dec_min, fp.dec_max - dec])
    taper = np.clip(edge / 3.0, 0.0, 1.0)
    w = np.sin(0.5 * np.pi * taper) ** 2  # cosine apodisation over 3 deg
    full = np.zeros(hp.nside2npix(nside))
    full[pix] = cmb * w
    lmax = 1000
    pseudo = hp.anafast(full, lmax=lmax, use_pixel_weights=False)
    w2 = np.sum(w**2) / full.size
    w4 = np.sum(w**4) / full.size
    fsky_eff = w2**2 / w4
    est = pseudo / w2
    edges = np.arange(100, lmax + 1, 50)
    ratios, sigmas = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        ell = np.arange(lo, hi)
        ratios.append(est[ell].mean() / camb_cl[ell].mean())
        sigmas.append(np.sqrt(2.0 / (np.sum(2 * ell + 1) * fsky_eff)))
    ratios, sigmas = np.array(ratios), np.array(sigmas)
    chi2 = np.sum(((ratios - 1.0) / sigmas) ** 2)
    assert chi2 / ratios.size < 2.0, (ratios, sigmas)
    mean_sigma = np.sqrt(1.0 / np.sum(1.0 / sigmas**2))
    assert abs(np.average(ratios, weights=1 / sigmas**2) - 1.0) < 3 * mean_sigma
