"""Depth (inverse-variance) maps of the white noise, one per band (config ``sky.noise.depth``).

Models: ``uniform`` (DeepSZ: every pixel at ``noise_uk_arcmin``), ``declination`` (the
constant-elevation law of :func:`skyhunt.sky.instrument.declination_weight`) and ``file``
(the user's HEALPix weight map per band). The declination and file weights are relative:
they are scaled so that the median white level over the footprint is the band's
``noise_uk_arcmin`` (:func:`skyhunt.sky.instrument.ivar_from_weights`). Every footprint
pixel must be observed: a weight map with zero, negative, non-finite or missing
(UNSEEN) values inside the footprint is rejected, naming the file, since an unobserved
pixel has no finite noise to simulate and would silently be a hole in every stage.
"""

from __future__ import annotations

import logging

import healpy as hp
import numpy as np

from skyhunt import io
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.imported import read_healpix_pixels
from skyhunt.sky.instrument import IVAR_UNIT, declination_weight, ivar_from_weights, level_uk_arcmin
from skyhunt.sky.pipeline import write_band_map

log = logging.getLogger("skyhunt.sky")


def read_weights(path, nside: int, pixels: np.ndarray, field: int = 0) -> np.ndarray:
    """A user's weight map at the footprint's pixels, checked: finite, >= 0, and > 0 in the footprint.

    Parameters
    ----------
    path : path-like
        Full-sky HEALPix FITS map (any ordering) at ``nside``.
    nside : int
    pixels : ndarray of int
        The footprint's RING pixels.
    field : int
        Table column of the map.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the file: missing or unreadable, another NSIDE, UNSEEN or non-finite values
        in the footprint, negative values, or zeros (unobserved pixels) in the footprint.
    """
    weights = read_healpix_pixels(path, nside, pixels, field)
    for bad, what in ((weights < 0, "negative"), (weights == 0, "zero (unobserved)")):
        if bad.any():
            raise io.InputFileError(
                f"weight map {path} has {int(bad.sum())} {what} pixels inside the footprint; "
                "every footprint pixel must be observed (weight > 0)"
            )
    return weights


def depth_ivar(depth: dict, band: dict, nside: int, pixels: np.ndarray, weights=None) -> np.ndarray:
    """Inverse variance of the band's white noise at ``pixels``, µK^-2 per pixel.

    Parameters
    ----------
    depth : dict
        Config ``sky.noise.depth`` (``model``).
    band : dict
        ``sky.bands`` entry (``noise_uk_arcmin`` > 0, µK-arcmin).
    nside : int
    pixels : ndarray of int
        Sorted RING pixels.
    weights : ndarray, optional
        Relative weights at ``pixels`` (model ``file``, from :func:`read_weights`).
    """
    if depth["model"] == "uniform":
        weights = np.ones(pixels.size)
    elif depth["model"] == "declination":
        weights = declination_weight(hp.pix2ang(nside, pixels, lonlat=True)[1])
    elif weights is None:
        raise ValueError("depth model 'file' needs the weight map")
    return ivar_from_weights(weights, band["noise_uk_arcmin"], nside)


def run_depth_map(*, footprint: dict, nside: int, band: dict, depth: dict, weights: list, ivar) -> None:
    """Inverse-variance map of one band's white noise (µK^-2 per pixel), on the footprint.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution.
    band : dict
        The band's ``sky.bands`` entry (``name``, ``freq_ghz``, ``noise_uk_arcmin`` in µK-arcmin).
    depth : dict
        Config ``sky.noise.depth`` (``model``, ``field``).
    weights : list of path-like
        The band's weight map (model ``file``), else empty.
    ivar : path-like
        Output partial map, unit :data:`skyhunt.sky.instrument.IVAR_UNIT` (``TUNIT2``).
    """
    pixels = Footprint.from_config(footprint).pixels(nside)
    values = None
    if depth["model"] == "file":
        (path,) = weights
        values = read_weights(path, nside, pixels, depth["field"])
    out = depth_ivar(depth, band, nside, pixels, values)
    levels = level_uk_arcmin(out, nside)
    log.info(
        "depth %s: white level %.3g to %.3g µK-arcmin (median %.3g)",
        depth["model"],
        levels.min(),
        levels.max(),
        np.median(levels),
    )
    header = {"DEPTHMOD": (depth["model"], "sky.noise.depth.model")}
    write_band_map(ivar, pixels, out, nside, band, "ivar", header, unit=IVAR_UNIT)
