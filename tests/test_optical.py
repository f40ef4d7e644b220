"""The optical sky: the galaxy model's relations recovered from its draws, and GalSim cutouts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy.io import fits
from astropy.wcs import WCS
from scipy import integrate, stats

from skyhunt import io
from skyhunt.catalogues.files import read_catalogue
from skyhunt.config import validate_config
from skyhunt.optical import galaxies as gal
from skyhunt.optical.io import read_cutout_table, write_cutouts
from skyhunt.optical.render import cutout_hdus, nanomaggies, render_cutout
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import convert_mass

from .conftest import REPO


@pytest.fixture(scope="module")
def cfg():
    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def _halos(n, m_lo, m_hi, z, rng):
    return pd.DataFrame(
        {
            "halo_id": np.arange(n),
            "ra": rng.uniform(1.0, 2.0, n),
            "dec": rng.uniform(1.0, 2.0, n),
            "z": np.full(n, z),
            "m500c": 10 ** rng.uniform(np.log10(m_lo), np.log10(m_hi), n),
        }
    )


def test_richness_mass_slope_is_recovered_from_the_members(cfg):
    sky, model = cfg["sky"], cfg["optical"]["galaxies"]
    halos = _halos(600, 1e14, 1e15, 0.35, np.random.default_rng(1))
    members = gal.draw_members(halos, sky["cosmology"], sky["halos"], model, np.random.default_rng(2))
    n = np.bincount(members["host_halo_id"], minlength=len(halos))
    m200m = convert_mass(
        sky["cosmology"], sky["halos"], halos["m500c"].to_numpy(), halos["z"].to_numpy(), "500c", "200m"
    )
    fit = stats.linregress(np.log(m200m), np.log(n))
    # McClintock et al. 2019: lambda ~ M^(1/F); 600 halos with 0.25 scatter give a slope error ~0.03
    assert fit.slope == pytest.approx(1.0 / model["richness"]["f_lambda"], abs=4 * fit.stderr + 0.02)
    # and the normalisation: at M200m = M0 (z = 0.35) ln lambda = ln 40 (median: ln N is fitted)
    ln_n_at_m0 = fit.intercept + fit.slope * np.log(10 ** model["richness"]["log10_m0"])
    assert ln_n_at_m0 == pytest.approx(np.log(40.0), abs=0.1)


def test_projected_nfw_radii_follow_the_profile():
    c = 3.6
    r = gal.draw_projected_nfw(20000, c, np.random.default_rng(3))

    def sigma(x):  # the projected NFW surface density (Bartelmann 1996), independently
        if x < 1:
            return (1 - 2 / np.sqrt(1 - x**2) * np.arctanh(np.sqrt((1 - x) / (1 + x)))) / (x**2 - 1)
        if x > 1:
            return (1 - 2 / np.sqrt(x**2 - 1) * np.arctan(np.sqrt((x - 1) / (1 + x)))) / (x**2 - 1)
        return 1.0 / 3.0

    total = integrate.quad(lambda x: 2 * np.pi * x * sigma(x), 1e-8, c, points=[1.0])[0]

    def cdf(u):
        return (
            np.array(
                [
                    integrate.quad(
                        lambda x: 2 * np.pi * x * sigma(x), 1e-8, ui * c, points=[1.0] if ui * c > 1 else None
                    )[0]
                    for ui in np.atleast_1d(u)
                ]
            )
            / total
        )

    grid = np.linspace(0.05, 0.95, 10)
    assert np.max(np.abs(np.mean(r[:, None] <= grid, axis=0) - cdf(grid))) < 0.015


def test_member_colours_follow_the_red_sequence_at_their_redshift(cfg):
    sky, model = cfg["sky"], cfg["optical"]["galaxies"]
    for z in (0.2, 0.5, 0.9):
        halos = _halos(50, 3e14, 6e14, z, np.random.default_rng(4))
        m = gal.draw_members(halos, sky["cosmology"], sky["halos"], model, np.random.default_rng(5))
        rs = gal.red_sequence(z)
        assert np.median(m["mag_g"] - m["mag_r"]) == pytest.approx(rs["g_r"], abs=0.01)
        assert np.median(m["mag_r"] - m["mag_i"]) == pytest.approx(rs["r_i"], abs=0.01)
        assert np.std(m["mag_r"] - m["mag_i"]) == pytest.approx(model["colour_scatter"], rel=0.1)
        # satellites are no fainter than l_min L*
        sats = m.loc[m["kind"] == "member", "mag_i"]
        assert sats.max() <= rs["mstar_i"] - 2.5 * np.log10(model["l_min"]) + 1e-9


def test_field_number_counts_slope(cfg):
    model = dict(cfg["optical"]["galaxies"], mag_limit_i=21.0)
    fp = Footprint(ra_min=0.0, ra_max=2.0, dec_min=0.0, dec_max=2.0)
    field = gal.draw_field(fp, cfg["sky"]["cosmology"], model, np.random.default_rng(6))
    counts, edges = np.histogram(field["mag_i"], bins=np.arange(17.0, 21.01, 0.5))
    fit = stats.linregress(0.5 * (edges[1:] + edges[:-1]), np.log10(counts))
    assert fit.slope == pytest.approx(model["field"]["slope"], abs=0.02)
    expected = gal.expected_count(
        model["field"]["density_deg2_mag"], model["field"]["slope"], 22.0, 21.0, fp.area_deg2
    )
    assert len(field) == pytest.approx(expected, abs=4 * np.sqrt(expected))


def _optical(cfg, **over):
    return {**{k: v for k, v in cfg["optical"].items() if k != "galaxies"}, **over}


def _one(kind, ra, dec, mag, size=0.0, n=0.0):
    return pd.DataFrame(
        {
            "ra": [ra],
            "dec": [dec],
            "kind": [kind],
            "mag_g": [mag],
            "mag_r": [mag],
            "mag_i": [mag],
            "size_arcsec": [size],
            "sersic_n": [n],
            "axis_ratio": [0.7],
            "position_angle_deg": [30.0],
        }
    )


@pytest.mark.parametrize("n", [1.0, 4.0])
def test_rendered_galaxy_flux_is_the_catalogue_magnitude(cfg, n):
    opt = _optical(cfg, npix=96)
    images, info = render_cutout(
        _one("field", 10.0, 5.0, 19.0, 1.0, n), 10.0, 5.0, opt, np.random.default_rng(7)
    )
    for band in ("g", "r", "i"):
        noise = info["sky_sigma"][band] * opt["npix"]  # rms of the image sum
        assert images[band].sum() == pytest.approx(
            nanomaggies(19.0), abs=4 * noise + 0.01 * nanomaggies(19.0)
        )


@pytest.mark.parametrize("psf", ["kolmogorov", "moffat"])
def test_psf_fwhm_measured_in_a_rendered_star(cfg, psf):
    opt = _optical(cfg, npix=64, pixel_scale_arcsec=0.1, seeing_fwhm_arcsec=1.0, psf=psf, preset="lsst")
    images, _ = render_cutout(_one("star", 10.0, 5.0, 16.0), 10.0, 5.0, opt, np.random.default_rng(8))
    im = images["r"]
    area = np.sum(im >= 0.5 * im.max()) * 0.1**2  # arcsec^2 above half maximum: pi FWHM^2 / 4
    assert np.sqrt(4 * area / np.pi) == pytest.approx(1.0, rel=0.05)


def test_sky_noise_and_fits_cutouts_with_wcs(cfg, tmp_path):
    opt = _optical(cfg, npix=64)
    ra0, dec0 = 10.0, 5.0
    star_ra, star_dec = ra0 - 8.0 / 3600 / np.cos(np.radians(dec0)), dec0 + 5.0 / 3600  # 8" west, 5" north
    images, info = render_cutout(_one("star", star_ra, star_dec, 17.0), ra0, dec0, opt, component_rng(1, "t"))
    corner = images["g"][:16, :16]
    assert np.std(corner) == pytest.approx(info["sky_sigma"]["g"], rel=0.1)
    table = pd.DataFrame(
        {
            "cutout_index": [3],
            "ra": [ra0],
            "dec": [dec0],
            "score": [9.0],
            "split": ["test"],
            "extname": ["C0003"],
        }
    )
    path = tmp_path / "c.fits"
    write_cutouts(path, {"INSTRUME": "optical"}, table, cutout_hdus(3, images, info, opt))
    assert read_cutout_table(path)["extname"].tolist() == ["C0003"]
    with fits.open(path) as hdul:
        hdu = hdul["C0003_R"]
        assert hdu.header["BUNIT"] == "nanomaggy" and hdu.header["BAND"] == "r"
        w = WCS(hdu.header)
        x, y = w.world_to_pixel_values(star_ra, star_dec)
        iy, ix = np.unravel_index(np.argmax(hdu.data), hdu.data.shape)
        assert abs(ix - x) <= 1 and abs(iy - y) <= 1
        assert ix > 32  # west is +x (east left)
        cx, cy = w.world_to_pixel_values(ra0, dec0)
        assert (cx, cy) == pytest.approx((31.5, 31.5))


def test_a_point_source_at_the_preset_depth_has_snr_5(cfg):
    opt = _optical(cfg, npix=48, preset="sdss")
    empty = _one("star", 50.0, 5.0, 20.0)  # far outside every cutout
    bright, _ = render_cutout(_one("star", 10.0, 5.0, 8.0), 10.0, 5.0, opt, np.random.default_rng(9))
    psf = bright["i"] / bright["i"].sum()
    estimates = [
        np.sum(psf * render_cutout(empty, 10.0, 5.0, opt, np.random.default_rng(10 + k))[0]["i"])
        / np.sum(psf**2)
        for k in range(200)
    ]  # the PSF-weighted flux of blank sky: its rms is the 1-sigma point-source flux
    m5 = 21.3  # SDSS i (Abazajian et al. 2009)
    assert 5.0 * np.std(estimates) == pytest.approx(nanomaggies(m5), rel=0.12)


@pytest.mark.slow
def test_workflow_writes_the_galaxies_and_cutouts_astropy_opens(two_runs):
    cfg, (run_a, _) = two_runs
    results = run_a / cfg["results_dir"]
    galaxies, units = io.read_table(results / "sky" / "galaxies.parquet")
    assert set(galaxies["kind"]) <= set(gal.KINDS) and units["mag_i"] == "AB mag"
    assert (galaxies["mag_i"] <= cfg["optical"]["galaxies"]["mag_limit_i"]).all()
    mf = read_catalogue(results / "catalogues" / "mf.parquet", "mf")
    for name, bands in (("optical", ["_G", "_R", "_I"]), ("xray", [""])):
        path = results / "multiwave" / f"{name}_cutouts.fits"
        table = read_cutout_table(path)
        assert len(table) == min(len(mf), cfg[name]["max_candidates"])
        assert np.allclose(table["ra"], mf["ra"].to_numpy()[: len(table)])
        with fits.open(path) as hdul:
            for stem, ra, dec in zip(table["extname"], table["ra"], table["dec"], strict=True):
                for band in bands:
                    hdu = hdul[stem + band]
                    assert hdu.header["BUNIT"] in ("nanomaggy", "count")
                    x, y = WCS(hdu.header).world_to_pixel_values(ra, dec)
                    assert (x, y) == pytest.approx(((hdu.data.shape[1] - 1) / 2, (hdu.data.shape[0] - 1) / 2))
