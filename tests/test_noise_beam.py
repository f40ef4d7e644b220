"""Instrument: white-noise level and the Gaussian beam operator."""

import healpy as hp
import numpy as np
import pytest

from skyhunt.sky import components
from skyhunt.sky.beam import gaussian_beam_operator
from skyhunt.sky.footprint import Footprint


@pytest.mark.parametrize(("nside", "level"), [(8192, 2.6), (2048, 6.6)])
def test_white_noise_pixel_rms(nside, level):
    npix = 2_000_000
    noise = components.noise_map(level, nside, npix, np.random.default_rng(4))
    pixel_side_arcmin = np.sqrt(hp.nside2pixarea(nside, degrees=True)) * 60.0
    expected = level / pixel_side_arcmin
    assert noise.std() == pytest.approx(expected, rel=4 / np.sqrt(2 * npix))
    assert abs(noise.mean()) < 4 * expected / np.sqrt(npix)
    if nside == 8192:
        assert expected == pytest.approx(6.06, abs=0.01)  # 2.6 µK-arcmin over 0.429' pixels


def test_beam_operator_matches_harmonic_smoothing():
    nside, fwhm = 512, 40.0
    fp = Footprint(20.0, 60.0, -20.0, 20.0)
    pix = fp.pixels(nside)
    sky = hp.synfast(1.0 / (np.arange(1500) + 20.0) ** 2, nside, lmax=1500)
    smoothed = hp.smoothing(sky, fwhm=np.radians(fwhm / 60.0), lmax=3 * nside - 1)
    beam = gaussian_beam_operator(nside, pix, fwhm)
    out = beam @ sky[pix]
    ra, dec = hp.pix2ang(nside, pix, lonlat=True)
    interior = (ra > 24) & (ra < 56) & (dec > -16) & (dec < 16)
    err = np.std(out[interior] - smoothed[pix][interior]) / np.std(smoothed[pix][interior])
    assert err < 2e-3
    np.testing.assert_allclose(beam @ np.ones(pix.size), 1.0)


def test_beam_preserves_point_source_flux():
    nside = 8192  # beam sigma = 3 pixels, so the discrete kernel approaches the continuous one
    pix = Footprint(0.0, 0.5, 0.0, 0.5).pixels(nside)
    src = np.zeros(pix.size)
    src[np.searchsorted(pix, hp.ang2pix(nside, 0.25, 0.25, lonlat=True))] = 1.0  # patch centre
    beam = gaussian_beam_operator(nside, pix, 3.0)
    out = beam.T @ src  # spread of one pixel's flux to its neighbours
    assert out.sum() == pytest.approx(1.0, rel=2e-3)
    peak_ratio = (beam @ src).max() / (
        hp.nside2pixarea(nside) / (2 * np.pi * (np.radians(3.0 / 60) / 2.3548) ** 2)
    )
    assert peak_ratio == pytest.approx(1.0, rel=0.05), "peak = pixel area / beam area"
