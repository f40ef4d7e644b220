"""Optical g, r, i cutouts of the galaxy catalogue, rendered with GalSim (Rowe et al. 2015).

Each object of the catalogue inside a cutout (plus a margin) is drawn with GalSim: a Sersic
profile of the catalogue's index (n = 4, de Vaucouleurs, for red galaxies; n = 1, exponential,
for blue ones), half-light radius, axis ratio and position angle, convolved with the seeing PSF
(Kolmogorov, or Moffat), stars as the PSF alone; each object on its own stamp (``method="auto"``:
convolved with the pixel), added to the image. Pixel values are fluxes in nanomaggies (AB
zero point 22.5: m = 22.5 - 2.5 log10 of the sum). Sky noise is white and Gaussian, of the rms
that puts a point source at the preset's 5-sigma depth m5 with PSF-weighted photometry:
sigma_pix = F(m5) / (5 sqrt(N_eff)), N_eff = 1 / sum P_i^2 of the pixelised PSF P (the
background-limited case; the objects' own shot noise is left out). The catalogue's magnitude
limit also limits the image: fainter galaxies are not drawn.
"""

from __future__ import annotations

import galsim
import numpy as np
import pandas as pd

from skyhunt.optical.io import image_hdu, tan_wcs
from skyhunt.sky.components import component_rng

#: The optical bands.
BANDS = ("g", "r", "i")

#: AB zero point of nanomaggies (SDSS, DES and Legacy Surveys convention).
ZERO_POINT = 22.5

#: Survey presets: native pixel scale (arcsec), median seeing FWHM (arcsec) and 5-sigma
#: point-source depth m5 per band (AB). SDSS: 0.396", 1.4", the DR7 95 %-completeness limits
#: g 22.2, r 22.2, i 21.3 (Abazajian et al. 2009). DES: 0.263", 0.95" (DR2 median), DR2 10-sigma
#: depths g 24.7, r 24.4, i 23.8 (Abbott et al. 2021) + 0.75 mag. LSST: 0.2", 0.7", ten-year
#: coadd m5 g 27.4, r 27.5, i 26.8 (Ivezic et al. 2019).
PRESETS = {
    "sdss": {"pixel_scale_arcsec": 0.396, "seeing_fwhm_arcsec": 1.4, "m5": {"g": 22.2, "r": 22.2, "i": 21.3}},
    "des": {
        "pixel_scale_arcsec": 0.263,
        "seeing_fwhm_arcsec": 0.95,
        "m5": {"g": 25.45, "r": 25.15, "i": 24.55},
    },
    "lsst": {"pixel_scale_arcsec": 0.2, "seeing_fwhm_arcsec": 0.7, "m5": {"g": 27.4, "r": 27.5, "i": 26.8}},
}

#: Columns of the galaxy catalogue the renderer reads.
RENDER_COLUMNS = (
    "ra",
    "dec",
    "kind",
    "mag_g",
    "mag_r",
    "mag_i",
    "size_arcsec",
    "sersic_n",
    "axis_ratio",
    "position_angle_deg",
)

_GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maximum_fft_size=4096)


def survey(optical_cfg: dict) -> dict:
    """The preset of ``optical.preset`` with the config's pixel scale and seeing (null: the preset's)."""
    preset = dict(PRESETS[optical_cfg["preset"]])
    for key in ("pixel_scale_arcsec", "seeing_fwhm_arcsec"):
        if optical_cfg[key] is not None:
            preset[key] = float(optical_cfg[key])
    return preset


def nanomaggies(mag) -> np.ndarray:
    """AB magnitudes to fluxes in nanomaggies."""
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=float) - ZERO_POINT))


def make_psf(optical_cfg: dict, fwhm_arcsec: float) -> galsim.GSObject:
    """The seeing PSF: Kolmogorov, or Moffat of ``moffat_beta``, of FWHM ``fwhm_arcsec``."""
    if optical_cfg["psf"] == "kolmogorov":
        return galsim.Kolmogorov(fwhm=fwhm_arcsec, gsparams=_GSPARAMS)
    return galsim.Moffat(beta=optical_cfg["moffat_beta"], fwhm=fwhm_arcsec, gsparams=_GSPARAMS)


def sky_sigma(psf: galsim.GSObject, m5: float, pixel_scale_arcsec: float) -> float:
    """Per-pixel sky rms (nanomaggies) that puts a PSF-weighted point source at 5 sigma at ``m5``."""
    image = psf.drawImage(nx=127, ny=127, scale=pixel_scale_arcsec, method="auto")
    p = image.array / image.array.sum()
    n_eff = 1.0 / float(np.sum(p**2))
    return float(nanomaggies(m5)) / (5.0 * np.sqrt(n_eff))


def galaxy_profile(row, flux: float) -> galsim.GSObject:
    """The GalSim profile of one catalogue galaxy: Sersic n, half-light radius, shape, ``flux``."""
    hlr = max(float(row.size_arcsec), 0.05)
    n = float(row.sersic_n)
    if n == 4.0:
        prof = galsim.DeVaucouleurs(half_light_radius=hlr, flux=flux, trunc=8.0 * hlr, gsparams=_GSPARAMS)
    elif n == 1.0:
        prof = galsim.Exponential(half_light_radius=hlr, flux=flux, gsparams=_GSPARAMS)
    else:
        prof = galsim.Sersic(n=n, half_light_radius=hlr, flux=flux, gsparams=_GSPARAMS)
    # position angle east of north; GalSim's beta is from +x (west, CDELT1 < 0) counter-clockwise
    return prof.shear(q=float(row.axis_ratio), beta=(90.0 + float(row.position_angle_deg)) * galsim.degrees)


def objects_near(galaxies: pd.DataFrame, ra0: float, dec0: float, half_width_deg: float) -> pd.DataFrame:
    """The catalogue rows within a box of half-width ``half_width_deg`` (on the sky) around (ra0, dec0)."""
    dra = (galaxies["ra"].to_numpy() - ra0 + 180.0) % 360.0 - 180.0
    ddec = galaxies["dec"].to_numpy() - dec0
    near = (np.abs(dra) * np.cos(np.radians(dec0)) <= half_width_deg) & (np.abs(ddec) <= half_width_deg)
    return galaxies.loc[near]


def render_cutout(
    galaxies: pd.DataFrame,
    ra0: float,
    dec0: float,
    optical_cfg: dict,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict]:
    """Render one cutout in g, r, i around (ra0, dec0) deg.

    Parameters
    ----------
    galaxies : DataFrame
        The galaxy catalogue (:data:`RENDER_COLUMNS`), or any subset holding the cutout's objects.
    ra0, dec0 : float
        Centre, deg.
    optical_cfg : dict
        Config ``optical``.
    rng : numpy.random.Generator
        The cutout's own noise stream.

    Returns
    -------
    images : dict
        Band -> float32 array (npix, npix), nanomaggies per pixel, FITS order (row 0 south).
    info : dict
        ``wcs`` (astropy WCS), ``sky_sigma`` (band -> rms), ``survey`` (:func:`survey`).
    """
    srv = survey(optical_cfg)
    npix = int(optical_cfg["npix"])
    scale = srv["pixel_scale_arcsec"]
    wcs = tan_wcs(ra0, dec0, npix, scale)
    psf = make_psf(optical_cfg, srv["seeing_fwhm_arcsec"])
    margin_arcsec = 5.0 * srv["seeing_fwhm_arcsec"]
    near = objects_near(galaxies, ra0, dec0, (npix * scale / 2.0 + margin_arcsec) / 3600.0)
    near = near.loc[near["mag_i"].notna()]
    x, y = wcs.all_world2pix(near["ra"].to_numpy(), near["dec"].to_numpy(), 1)
    images, sigmas = {}, {}
    for band in BANDS:
        image = galsim.ImageF(npix, npix, scale=scale)
        fluxes = nanomaggies(near[f"mag_{band}"].to_numpy())
        for row, xi, yi, flux in zip(near.itertuples(index=False), x, y, fluxes, strict=True):
            obj = (
                psf.withFlux(flux) if row.kind == "star" else galsim.Convolve(galaxy_profile(row, flux), psf)
            )
            stamp = obj.drawImage(scale=scale, center=galsim.PositionD(xi, yi), method="auto")
            overlap = stamp.bounds & image.bounds
            if overlap.isDefined():
                image[overlap] += stamp[overlap]
        sigma = sky_sigma(psf, srv["m5"][band], scale)
        data = image.array.astype(np.float64) + rng.normal(0.0, sigma, (npix, npix))
        images[band] = data.astype(np.float32)
        sigmas[band] = sigma
    return images, {"wcs": wcs, "sky_sigma": sigmas, "survey": srv}


def cutout_hdus(index: int, images: dict, info: dict, optical_cfg: dict) -> list:
    """The image HDUs ``C<index>_<BAND>`` of one rendered cutout, with WCS and photometric keywords."""
    srv = info["survey"]
    hdus = []
    for band in BANDS:
        keywords = {
            "BUNIT": ("nanomaggy", "flux per pixel; m = MAGZP - 2.5 log10(sum)"),
            "BAND": (band, "optical band"),
            "MAGZP": (ZERO_POINT, "AB zero point"),
            "SURVEY": (optical_cfg["preset"], "depth preset"),
            "M5": (srv["m5"][band], "5-sigma point-source depth, AB mag"),
            "PSF": (optical_cfg["psf"], "seeing PSF profile"),
            "PSFFWHM": (srv["seeing_fwhm_arcsec"], "PSF FWHM, arcsec"),
            "PIXSCALE": (srv["pixel_scale_arcsec"], "arcsec per pixel"),
            "SKYSIG": (info["sky_sigma"][band], "sky noise rms per pixel, nanomaggy"),
            "CUTOUT": (index, "row of the CUTOUTS table"),
        }
        hdus.append(image_hdu(images[band], info["wcs"], f"C{index:04d}_{band.upper()}", keywords))
    return hdus


def cutout_rng(seed: int, index: int) -> np.random.Generator:
    """The noise stream of optical cutout ``index`` (independent of the rendering order)."""
    return component_rng(seed, f"optical_cutout/{index}")
