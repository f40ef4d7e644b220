"""Instrument: white-noise level, and beams (b_ell, profiles, beamed fields, sources and clusters)."""

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from skyhunt import io
from skyhunt.sky import components
from skyhunt.sky.beam import beam_of, beam_transfer
from skyhunt.sky.profiles import projected_table
from skyhunt.sky.sources import jy_per_sr_to_uk_cmb, paint_sources
from skyhunt.sky.sz import paint_y_and_tau_v


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


ARCMIN = np.pi / (180.0 * 60.0)


def test_beamed_gaussian_field_has_cl_times_bl_squared():
    """Full sky at nside 256: the spectrum of a beamed field is C_ell b_ell^2 within cosmic variance."""
    nside, lmax = 256, 700
    ell = np.arange(lmax + 1)
    cl = np.zeros(lmax + 1)
    cl[2:] = 1e3 / ell[2:] ** 1.5
    bands = [{"name": "a"}, {"name": "b", "beam_fwhm_arcmin": 40.0}]
    maps = components.cmb_maps(cl, bands, nside, np.arange(hp.nside2npix(nside)), np.random.default_rng(3))
    bl = hp.gauss_beam(np.radians(40.0 / 60.0), lmax)
    for name, expect in (("a", cl), ("b", cl * bl**2)):  # synthesis at pixel centres: no pixel window
        got = hp.anafast(maps[name], lmax=lmax)
        for lo in range(20, 600, 60):
            sl = slice(lo, lo + 60)
            n_modes = np.sum(2 * ell[sl] + 1)
            ratio = got[sl].sum() / expect[sl].sum()
            assert ratio == pytest.approx(1.0, abs=5 / np.sqrt(n_modes / 2)), (name, lo)
    # the beam's ratio is not 1 at these ell: the test could tell a missing beam
    assert bl[500] ** 2 < 0.5


def one_source(ra, dec, flux_mjy=10.0):
    return pd.DataFrame({"population": ["radio"], "ra": [ra], "dec": [dec], "flux_148_mjy": [flux_mjy]})


def test_painted_point_source_has_the_beam_shape_and_flux():
    nside, fwhm = 4096, 5.0  # 0.86' pixels, a 5' beam
    ra0, dec0 = 40.3, -10.2
    vec0 = hp.ang2vec(ra0, dec0, lonlat=True)
    pixels = hp.query_disc(nside, vec0, np.radians(0.3))
    band = {"name": "148", "freq_ghz": 148.0, "beam_fwhm_arcmin": fwhm}
    values = paint_sources(one_source(ra0, dec0), "radio", band, nside, pixels)
    to_uk = jy_per_sr_to_uk_cmb(148.0)
    omega = hp.nside2pixarea(nside)
    assert values.sum() * omega / to_uk == pytest.approx(10e-3, rel=1e-9)  # 10 mJy in Jy
    theta = np.arccos(np.clip(np.stack(hp.pix2vec(nside, pixels), axis=1) @ vec0, -1, 1))
    sigma = fwhm * ARCMIN / np.sqrt(8 * np.log(2))
    gauss = 10e-3 * to_uk * np.exp(-0.5 * (theta / sigma) ** 2) / (2 * np.pi * sigma**2)
    core = theta < 2 * sigma
    np.testing.assert_allclose(values[core], gauss[core], rtol=0.01)
    assert np.count_nonzero(values) > 50
    # no beam: all the flux in the one pixel holding the source
    plain = paint_sources(one_source(ra0, dec0), "radio", {"name": "148", "freq_ghz": 148.0}, nside, pixels)
    assert np.count_nonzero(plain) == 1 and plain.sum() == pytest.approx(values.sum(), rel=1e-12)


def flat_convolved_profile(theta500_arcmin, truncation, fwhm_arcmin, theta_arcmin):
    """Independent reference: Pi(theta / theta500) convolved with a Gaussian by a 2-D FFT (flat sky)."""
    x, pi = projected_table(truncation)
    sigma = fwhm_arcmin / np.sqrt(8 * np.log(2))
    n = 2048
    d = 4 * (truncation * theta500_arcmin + 5 * sigma) / n
    g = (np.arange(n) - n // 2) * d
    img = np.interp(np.hypot(*np.meshgrid(g, g)) / theta500_arcmin, x, pi, right=0.0)
    img /= img.sum() * d * d
    k = 2 * np.pi * np.fft.fftfreq(n, d)
    k2 = np.add.outer(k**2, k**2)
    conv = np.real(np.fft.ifft2(np.fft.fft2(img) * np.exp(-0.5 * k2 * sigma**2)))
    return np.interp(theta_arcmin, g[n // 2 :], conv[n // 2, n // 2 :])  # arcmin^-2, unit integral


@pytest.mark.parametrize("theta500_arcmin", [0.8, 3.0])
def test_painted_cluster_is_the_profile_convolved_with_the_beam(theta500_arcmin):
    nside, fwhm, truncation = 8192, 1.4, 5.0
    ra0, dec0 = 10.0, 3.0
    vec0 = hp.ang2vec(ra0, dec0, lonlat=True)
    pixels = hp.query_disc(nside, vec0, (truncation * theta500_arcmin + 4 * fwhm) * ARCMIN)
    y_arcmin2 = 1e-3
    halo = pd.DataFrame(
        {
            "ra": [ra0],
            "dec": [dec0],
            "theta500_arcmin": [theta500_arcmin],
            "y5r500_arcmin2": [y_arcmin2],
            "t_keV": [5.0],
            "v_los": [300.0],
        }
    )
    beam = beam_of({"beam_fwhm_arcmin": fwhm})
    y, tau_v, _ = paint_y_and_tau_v(halo, nside, pixels, truncation, beam)
    omega_arcmin2 = hp.nside2pixarea(nside, degrees=True) * 3600.0
    assert y.sum() * omega_arcmin2 == pytest.approx(y_arcmin2, rel=1e-9)  # flux conservation
    theta = np.arccos(np.clip(np.stack(hp.pix2vec(nside, pixels), axis=1) @ vec0, -1, 1)) / ARCMIN
    expect = y_arcmin2 * flat_convolved_profile(theta500_arcmin, truncation, fwhm, theta)
    bright = expect > 0.05 * expect.max()
    np.testing.assert_allclose(y[bright], expect[bright], rtol=0.03)
    # without the beam the centre is markedly higher: the test sees the convolution
    y0, _, _ = paint_y_and_tau_v(halo, nside, pixels, truncation)
    assert y0.max() > 1.3 * y.max()
    ratio = tau_v[bright] / y[bright]
    np.testing.assert_allclose(ratio, ratio[0])  # kSZ follows the same beamed profile


def test_beam_file_equals_the_gaussian_and_bad_files_are_named(tmp_path):
    fwhm = 2.0
    bl = hp.gauss_beam(np.radians(fwhm / 60.0), lmax=25000)
    text = tmp_path / "beam.txt"
    np.savetxt(text, np.column_stack([np.arange(bl.size), 2.0 * bl]), header="ell b_ell")  # b_0 = 2
    ecsv = tmp_path / "beam.ecsv"
    Table({"ell": np.arange(bl.size), "b_ell": bl}).write(ecsv, format="ascii.ecsv")
    gauss = {"name": "148", "freq_ghz": 148.0, "beam_fwhm_arcmin": fwhm}
    nside = 4096
    vec0 = hp.ang2vec(5.0, 1.0, lonlat=True)
    pixels = hp.query_disc(nside, vec0, np.radians(0.2))
    ref = paint_sources(one_source(5.0, 1.0), "radio", gauss, nside, pixels)
    for path in (text, ecsv):
        band = {"name": "148", "freq_ghz": 148.0, "beam_file": str(path)}
        np.testing.assert_allclose(beam_transfer(band, 20000), beam_transfer(gauss, 20000), atol=1e-12)
        got = paint_sources(one_source(5.0, 1.0), "radio", band, nside, pixels)
        np.testing.assert_allclose(got, ref, rtol=2e-3, atol=1e-6 * ref.max())
    bad = tmp_path / "bad_beam.txt"
    for rows in ([[0, 1.0], [2, 0.9], [1, 0.8]], [[1, 1.0], [2, 0.5]], [[0, 1.0], [1, np.nan]]):
        np.savetxt(bad, rows)
        with pytest.raises(io.InputFileError, match="bad_beam.txt"):
            beam_transfer({"beam_file": str(bad)}, 10)
    short = tmp_path / "short_beam.txt"
    np.savetxt(short, np.column_stack([np.arange(3001), bl[:3001]]))  # ends at b_3000 = 0.6
    with pytest.raises(io.InputFileError, match="short_beam.txt"):
        beam_transfer({"beam_file": str(short)}, 5000)
