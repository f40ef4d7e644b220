"""The Deep-CEE files of one split: field images (``.npy``), the field index and the truth clusters.

``deepcee/fields_<split>.npy``: float32 (N, 3, npix, npix), nanomaggies, bands g, r, i, in FITS
order (``a[band, iy, ix]``, row 0 south, x increasing to the west: the TAN WCS of
:func:`skyhunt.optical.io.tan_wcs` about the field centre). ``fields_<split>.parquet``: one row
per field (field_id, kind, ra, dec, target_halo_id, split); its metadata hold the survey
(pixel scale, sky rms per band). ``truth_<split>.parquet``: the qualifying halos on each field
(field_id, halo_id, ra, dec, z, m500c and their pixel coordinates x, y).
"""

from __future__ import annotations

import numpy as np

from skyhunt import io

#: Units of the field index.
FIELD_UNITS = {
    "field_id": "",
    "kind": "cluster | random",
    "ra": "deg",
    "dec": "deg",
    "target_halo_id": "(-1: random field)",
    "split": "",
}

#: Units of the truth table.
TRUTH_UNITS = {
    "field_id": "",
    "halo_id": "",
    "ra": "deg",
    "dec": "deg",
    "z": "",
    "m500c": "M_sun",
    "x": "pixel (0-based, FITS order)",
    "y": "pixel (0-based, FITS order)",
}

#: Units of the detection table.
DEEPCEE_DETECTION_UNITS = {
    "field_id": "",
    "ra": "deg",
    "dec": "deg",
    "x": "pixel (0-based, FITS order)",
    "y": "pixel (0-based, FITS order)",
    "prob": "heat-map confidence",
}


def write_images(path, images: np.ndarray) -> None:
    """Write the field images atomically as ``.npy``."""
    with io.atomic_output(path) as tmp, open(tmp, "wb") as out:
        np.save(out, np.ascontiguousarray(images, dtype=np.float32))


def read_images(path, n_fields: int) -> np.ndarray:
    """The field images, checked for their shape against the index and for finite values."""
    try:
        images = np.load(path)
    except (OSError, ValueError) as err:
        raise io.InputFileError(f"{path}: not a readable .npy array ({err})") from err
    if images.ndim != 4 or images.shape[0] != n_fields or images.shape[1] != 3:
        raise io.InputFileError(f"{path}: expected ({n_fields}, 3, npix, npix) images, got {images.shape}")
    if not np.isfinite(images).all():
        raise io.InputFileError(f"{path}: non-finite pixel values")
    return images


def read_fields(index, images, truth):
    """The field index, the images and the truth of one split (checked).

    Returns
    -------
    fields : DataFrame
    images : ndarray
    truth : DataFrame
    meta : dict
        The index's ``skyhunt`` metadata (``pixel_scale_arcsec``, ``npix``, ``sky_sigma``).
    """
    fields = io.read_checked_table(index, FIELD_UNITS)
    meta = io.read_table_meta(index)
    return fields, read_images(images, len(fields)), io.read_checked_table(truth, TRUTH_UNITS), meta


def read_detections(path):
    """The detections of ``deepcee_detect``, checked."""
    return io.read_checked_table(path, DEEPCEE_DETECTION_UNITS)
