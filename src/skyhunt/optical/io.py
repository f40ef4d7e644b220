"""FITS cutouts with a TAN WCS: one multi-extension file per instrument (optical and X-ray).

Layout (``results/multiwave/<instrument>_cutouts.fits``): an empty primary HDU whose header
describes the instrument, a binary table ``CUTOUTS`` with one row per cutout (its index, centre,
the candidate's score and split, and ``extname``, the image HDUs' name stem), and one image HDU
per cutout and band, named ``C<index>_<BAND>`` (optical) or ``C<index>`` (X-ray). Every image
header carries its own TAN WCS (``astropy.wcs.WCS(hdu.header)``), ``BUNIT`` and the instrument's
keywords, so ``astropy.io.fits.open(path)["C0003_R"]`` is a complete image. In FITS order x
increases to the west and y to the north (``CDELT1`` < 0), so an image shown with
``imshow(data, origin="lower")`` has north up and east left; the cutout's centre is the corner
shared by its four central pixels. The X-ray cutouts (:mod:`skyhunt.xray`) use the same layout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS

from skyhunt import io

#: Units of the CUTOUTS table's columns.
CUTOUT_TABLE_UNITS = {
    "cutout_index": "",
    "ra": "deg",
    "dec": "deg",
    "score": "candidate score",
    "split": "",
    "extname": "",
}


def tan_wcs(ra0: float, dec0: float, npix: int, pixel_scale_arcsec: float) -> WCS:
    """A TAN WCS of an ``npix`` x ``npix`` image centred on (ra0, dec0) deg, east left, north up."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(ra0), float(dec0)]
    w.wcs.crpix = [(npix + 1) / 2.0, (npix + 1) / 2.0]
    w.wcs.cdelt = [-pixel_scale_arcsec / 3600.0, pixel_scale_arcsec / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = "ICRS"
    return w


def image_hdu(data: np.ndarray, wcs: WCS, name: str, keywords: dict) -> fits.ImageHDU:
    """An image HDU with the WCS and ``keywords`` (name -> (value, comment)) in its header."""
    hdu = fits.ImageHDU(data=data, header=wcs.to_header(), name=name)
    for key, value in keywords.items():
        hdu.header[key] = value
    return hdu


def write_cutouts(path, primary_keywords: dict, table: pd.DataFrame, images: list[fits.ImageHDU]) -> None:
    """Write the multi-extension cutout file atomically, with fixed-comment checksums (same bytes)."""
    primary = fits.PrimaryHDU()
    for key, value in primary_keywords.items():
        primary.header[key] = value
    columns = []
    for name in CUTOUT_TABLE_UNITS:
        values = table[name].to_numpy()
        if values.dtype.kind in "OUS":
            text = values.astype(str)
            width = max(1, max((len(s) for s in text), default=1))
            columns.append(fits.Column(name=name, format=f"{width}A", array=np.char.encode(text, "ascii")))
        else:
            fmt = "K" if values.dtype.kind in "iu" else "D"
            unit = CUTOUT_TABLE_UNITS[name] if CUTOUT_TABLE_UNITS[name] == "deg" else None
            columns.append(fits.Column(name=name, format=fmt, unit=unit, array=values))
    hdul = fits.HDUList([primary, fits.BinTableHDU.from_columns(columns, name="CUTOUTS"), *images])
    for h in hdul:
        h.add_checksum(when="skyhunt")
    with io.atomic_output(path) as tmp:
        hdul.writeto(tmp)


def read_cutout_table(path) -> pd.DataFrame:
    """The CUTOUTS table of a cutout file; fail naming the file when it is missing or incomplete."""
    try:
        with fits.open(path) as hdul:
            data = hdul["CUTOUTS"].data
            table = pd.DataFrame({c: np.asarray(data[c]) for c in CUTOUT_TABLE_UNITS})
    except (OSError, KeyError) as err:
        raise io.InputFileError(f"{path}: not a cutout file with a CUTOUTS table ({err})") from err
    table["extname"] = table["extname"].astype(str)
    table["split"] = table["split"].astype(str)
    return table
