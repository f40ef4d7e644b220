"""The X-ray sky: beta-model counts from the L_X-M relation, background, AGN and the cutouts' WCS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from astropy.wcs import WCS

from skyhunt.config import validate_config
from skyhunt.xray.model import agn_counts, halo_counts
from skyhunt.xray.render import background_per_pixel, cutout_hdu, expected_image

from .conftest import REPO


@pytest.fixture(scope="module")
def cfg():
    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def _no_agn():
    return pd.DataFrame({"source_id": [], "ra": [], "dec": [], "flux_erg_s_cm2": [], "counts": []})


def _halo(ra, dec, z=0.3, m500c=5e14, theta500=3.0):
    return pd.DataFrame(
        {"halo_id": [0], "ra": [ra], "dec": [dec], "z": [z], "m500c": [m500c], "theta500_arcmin": [theta500]}
    )


def test_cluster_counts_are_the_lx_flux_times_exposure(cfg):
    xray = dict(
        cfg["xray"], npix=300, pixel_scale_arcsec=4.0, psf_hew_arcsec=2.0, background_counts_s_arcmin2=0.0
    )
    xray["lx_m"] = dict(xray["lx_m"], sigma_ln=0.0)
    cosmo = cfg["sky"]["cosmology"]
    model = halo_counts(_halo(10.0, 5.0), xray, cosmo, np.random.default_rng(0))
    # the L_X-M relation and the flux, independently with astropy's distances
    lx = xray["lx_m"]
    astro = FlatLambdaCDM(H0=cosmo["H0"], Om0=cosmo["Om0"])
    ez = astro.efunc(0.3) / astro.efunc(lx["z_pivot"])
    l_x = (
        lx["norm_erg_s"]
        * (5e14 / lx["m_pivot"]) ** lx["slope"]
        * ez**2
        * (1.3 / (1 + lx["z_pivot"])) ** lx["gamma_z"]
    )
    flux = l_x / (4 * np.pi * astro.luminosity_distance(0.3).to_value(u.cm) ** 2)
    expected_r500 = flux * xray["ecf"] * xray["exposure_s"]
    assert model["counts_r500"].iloc[0] == pytest.approx(expected_r500, rel=0.01)  # colossus vs astropy D_L

    mean, wcs = expected_image(model, _no_agn(), 10.0, 5.0, xray)
    # the whole truncated model (3 theta500 = 9' < the 10' half width) is in the image
    assert mean.sum() == pytest.approx(model["counts_total"].iloc[0], rel=0.01)
    yy, xx = np.indices(mean.shape)
    cx, cy = wcs.world_to_pixel_values(10.0, 5.0)
    r_arcmin = np.hypot(xx - cx, yy - cy) * 4.0 / 60.0
    assert mean[r_arcmin <= 3.0].sum() == pytest.approx(expected_r500, rel=0.03)  # pixelised aperture
    counts = np.random.default_rng(1).poisson(mean)
    assert counts.sum() == pytest.approx(mean.sum(), abs=4 * np.sqrt(mean.sum()))


def test_background_level_is_recovered(cfg):
    xray = dict(cfg["xray"], npix=128, exposure_s=2000.0)
    empty = halo_counts(_halo(50.0, 5.0), xray, cfg["sky"]["cosmology"], np.random.default_rng(0))
    mean, _ = expected_image(empty, _no_agn(), 10.0, 5.0, xray)  # the halo is far away
    counts = np.random.default_rng(2).poisson(mean)
    expected = 2000.0 * xray["background_counts_s_arcmin2"] * (4.0 / 60.0) ** 2
    assert background_per_pixel(xray) == pytest.approx(expected)
    assert counts.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected / counts.size))


def test_lx_scatter_is_log_normal(cfg):
    xray = cfg["xray"]
    n = 4000
    halos = pd.DataFrame(
        {
            "halo_id": np.arange(n),
            "ra": np.zeros(n),
            "dec": np.zeros(n),
            "z": np.full(n, 0.5),
            "m500c": np.full(n, 3e14),
            "theta500_arcmin": np.full(n, 2.0),
        }
    )
    model = halo_counts(halos, xray, cfg["sky"]["cosmology"], np.random.default_rng(3))
    ln = np.log(model["lx_erg_s"])
    assert np.std(ln) == pytest.approx(xray["lx_m"]["sigma_ln"], rel=0.05)


def test_agn_sit_at_their_radio_source_in_the_wcs(cfg):
    xray = dict(cfg["xray"], background_counts_s_arcmin2=0.0)
    ra0, dec0 = 10.0, 5.0
    ra_s, dec_s = ra0 + 1.0 / 60 / np.cos(np.radians(dec0)), dec0 - 0.5 / 60  # 1' east, 0.5' south
    sources = pd.DataFrame(
        {
            "source_id": [0, 1],
            "ra": [ra_s, ra0],
            "dec": [dec_s, dec0],
            "population": ["radio", "ir"],
            "flux_090_mjy": [50.0, 50.0],
        }
    )
    agn = agn_counts(sources, "flux_090_mjy", xray, np.random.default_rng(4))
    assert agn["source_id"].tolist() == [0]  # IR sources are not AGN
    far = halo_counts(_halo(50.0, 5.0), xray, cfg["sky"]["cosmology"], np.random.default_rng(0))
    mean, wcs = expected_image(far, agn, ra0, dec0, xray)
    assert mean.sum() == pytest.approx(agn["counts"].iloc[0], rel=0.01)
    hdu = cutout_hdu(0, np.random.default_rng(5).poisson(mean), wcs, xray)
    assert hdu.header["BUNIT"] == "count" and hdu.header["EXPOSURE"] == xray["exposure_s"]
    x, y = WCS(hdu.header).world_to_pixel_values(ra_s, dec_s)
    iy, ix = np.unravel_index(np.argmax(mean), mean.shape)
    assert abs(ix - x) <= 0.5 and abs(iy - y) <= 0.5
    assert ix < xray["npix"] / 2  # east is left
