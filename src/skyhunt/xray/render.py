"""eROSITA-like 0.5-2 keV count cutouts: beta-model clusters, AGN, background, PSF, Poisson counts.

The expected counts per pixel are the uniform background (``background_counts_s_arcmin2`` x
exposure x pixel area) plus every halo's beta model (:mod:`skyhunt.xray.model`; halos whose
truncated model reaches the cutout and holds at least ``min_halo_counts``) and every AGN, each
convolved with the PSF (a Gaussian whose FWHM is the half-energy width ``psf_hew_arcsec``: for a
Gaussian the two are equal) and integrated over the pixels by GalSim (``method="auto"``). The
image is a Poisson draw of them from the cutout's own stream ``xray_cutout/<index>``.
"""

from __future__ import annotations

import functools

import galsim
import numpy as np
import pandas as pd

from skyhunt.optical.io import image_hdu, tan_wcs
from skyhunt.optical.render import objects_near
from skyhunt.sky.components import component_rng

_GSPARAMS = galsim.GSParams(folding_threshold=1e-3, maximum_fft_size=8192)


@functools.lru_cache(maxsize=4)
def unit_beta_model(beta: float, trunc_core: float) -> galsim.Moffat:
    """The beta model of core radius 1 arcsec cut at ``trunc_core`` arcsec, unit flux.

    Every halo is it dilated to its theta_c: all share trunc/theta_c, so GalSim finds the
    profile's Fourier extent (the slow part of a truncated Moffat) once.
    """
    return galsim.Moffat(beta=3.0 * beta - 0.5, scale_radius=1.0, trunc=trunc_core, gsparams=_GSPARAMS)


def background_per_pixel(xray_cfg: dict) -> float:
    """Expected background counts per pixel."""
    pixel_arcmin2 = (xray_cfg["pixel_scale_arcsec"] / 60.0) ** 2
    return float(xray_cfg["background_counts_s_arcmin2"] * xray_cfg["exposure_s"] * pixel_arcmin2)


def expected_image(
    halos: pd.DataFrame, agn: pd.DataFrame, ra0: float, dec0: float, xray_cfg: dict
) -> tuple[np.ndarray, object]:
    """Expected counts per pixel (float64, FITS order) of the cutout around (ra0, dec0) deg, and its WCS.

    Parameters
    ----------
    halos : DataFrame
        :func:`skyhunt.xray.model.halo_counts`.
    agn : DataFrame
        :func:`skyhunt.xray.model.agn_counts`.
    """
    npix = int(xray_cfg["npix"])
    scale = float(xray_cfg["pixel_scale_arcsec"])
    wcs = tan_wcs(ra0, dec0, npix, scale)
    psf = galsim.Gaussian(fwhm=xray_cfg["psf_hew_arcsec"], gsparams=_GSPARAMS)
    image = galsim.ImageD(npix, npix, scale=scale)
    half_deg = npix * scale / 2.0 / 3600.0 * np.sqrt(2.0)
    beta_cfg = xray_cfg["beta_model"]
    bright = halos.loc[halos["counts_total"].to_numpy() >= xray_cfg["min_halo_counts"]]
    reach = half_deg + bright["trunc_arcmin"].to_numpy() / 60.0
    near = objects_near(bright, ra0, dec0, float(reach.max(initial=0.0)))
    near = near.loc[_separation_deg(near, ra0, dec0) <= half_deg + near["trunc_arcmin"].to_numpy() / 60.0]
    unit = unit_beta_model(beta_cfg["beta"], beta_cfg["trunc_r500"] / beta_cfg["core_r500"])
    objects = [
        galsim.Convolve(unit.dilate(row.theta_c_arcmin * 60.0).withFlux(row.counts_total), psf)
        for row in near.itertuples(index=False)
    ]
    points = objects_near(agn, ra0, dec0, half_deg + 3.0 * xray_cfg["psf_hew_arcsec"] / 3600.0)
    objects += [psf.withFlux(c) for c in points["counts"].to_numpy()]
    table = pd.concat([near[["ra", "dec"]], points[["ra", "dec"]]], ignore_index=True)
    x, y = wcs.all_world2pix(table["ra"].to_numpy(), table["dec"].to_numpy(), 1)
    for obj, xi, yi in zip(objects, x, y, strict=True):
        stamp = obj.drawImage(scale=scale, center=galsim.PositionD(xi, yi), method="auto")
        overlap = stamp.bounds & image.bounds
        if overlap.isDefined():
            image[overlap] += stamp[overlap]
    # FFT drawing leaves round-off of either sign far from the objects: clip it to the rate's floor, 0
    return np.maximum(image.array, 0.0) + background_per_pixel(xray_cfg), wcs


def _separation_deg(table: pd.DataFrame, ra0: float, dec0: float) -> np.ndarray:
    dra = ((table["ra"].to_numpy() - ra0 + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec0))
    return np.hypot(dra, table["dec"].to_numpy() - dec0)


def cutout_rng(seed: int, index: int) -> np.random.Generator:
    """The Poisson stream of X-ray cutout ``index`` (independent of the rendering order)."""
    return component_rng(seed, f"xray_cutout/{index}")


def cutout_hdu(index: int, counts: np.ndarray, wcs, xray_cfg: dict):
    """The image HDU ``C<index>`` of one X-ray cutout: counts, WCS, exposure and instrument keywords."""
    keywords = {
        "BUNIT": ("count", "photon counts per pixel"),
        "TELESCOP": ("eROSITA-like", "simulated"),
        "ENERG_LO": (0.5, "keV"),
        "ENERG_HI": (2.0, "keV"),
        "EXPOSURE": (float(xray_cfg["exposure_s"]), "exposure time, s (uniform)"),
        "PSFHEW": (float(xray_cfg["psf_hew_arcsec"]), "PSF half-energy width, arcsec (Gaussian)"),
        "BKGRATE": (float(xray_cfg["background_counts_s_arcmin2"]), "background, counts/s/arcmin2"),
        "BKGPIX": (background_per_pixel(xray_cfg), "expected background counts per pixel"),
        "PIXSCALE": (float(xray_cfg["pixel_scale_arcsec"]), "arcsec per pixel"),
        "CUTOUT": (index, "row of the CUTOUTS table"),
    }
    return image_hdu(counts.astype(np.int32), wcs, f"C{index:04d}", keywords)
