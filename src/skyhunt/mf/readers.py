"""Reading the matched-filter stage's files; fails naming the file and what is wrong with it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from skyhunt import io
from skyhunt.mf.tiles import TileLayout
from skyhunt.mf.transfer import ScanTransfer

#: Candidate columns that matching needs: ra, dec (deg), snr.
MATCH_COLUMNS = ("ra", "dec", "snr")

#: Image HDUs of a scan-transfer file.
TRANSFER_HDUS = ("TRANSFER", "POWER", "DEC0")


def read_candidates(path) -> pd.DataFrame:
    """The candidate table of one stage (``candidates.parquet``) with the columns matching needs."""
    return io.read_checked_table(path, MATCH_COLUMNS)


def read_scan_transfer(path, layout: TileLayout) -> ScanTransfer:
    """The scan filter's transfer (``scan_transfer.fits``), checked against the search's tile layout.

    Raises
    ------
    skyhunt.io.InputFileError
        If the file is missing, corrupt, lacks an HDU, holds non-finite values, or was measured
        for other tiles (size, pixel or row declinations).
    """
    path = Path(path)
    if not path.is_file():
        raise io.InputFileError(f"scan transfer file {path} does not exist")
    try:
        with warnings.catch_warnings(), fits.open(path, memmap=False) as hdul:
            warnings.simplefilter("ignore", AstropyUserWarning)
            signed = [h for h in hdul if "CHECKSUM" in h.header]
            if any(h.verify_checksum() != 1 or h.verify_datasum() != 1 for h in signed):
                raise io.InputFileError(f"scan transfer file {path} fails its FITS checksum")
            missing = [n for n in TRANSFER_HDUS if n not in hdul]
            if missing or "NPIX" not in hdul[0].header or "PIXARCM" not in hdul[0].header:
                raise io.InputFileError(f"scan transfer file {path} lacks HDUs {missing} or NPIX/PIXARCM")
            st = ScanTransfer(
                np.array(hdul["DEC0"].data, dtype=np.float64),
                np.array(hdul["TRANSFER"].data, dtype=np.float64),
                np.array(hdul["POWER"].data, dtype=np.float64),
                int(hdul[0].header["NPIX"]),
                float(hdul[0].header["PIXARCM"]),
            )
    except io.InputFileError:
        raise
    except Exception as exc:  # astropy raises many types for truncated/corrupt FITS
        raise io.InputFileError(f"scan transfer file {path} is not a readable FITS file: {exc}") from exc
    shape = (st.dec0_deg.size, st.npix, st.npix // 2 + 1)
    if st.transfer.shape != shape or st.power.shape != shape:
        raise io.InputFileError(f"scan transfer file {path}: expected tables of shape {shape}")
    if not (np.all(np.isfinite(st.transfer)) and np.all(np.isfinite(st.power))):
        raise io.InputFileError(f"scan transfer file {path} holds non-finite values")
    if not st.matches(layout):
        raise io.InputFileError(
            f"scan transfer file {path} was measured for other tiles ({st.npix}^2 pixels of "
            f"{st.pixel_arcmin}', rows at Dec {st.dec0_deg} deg) than mf.tiles gives ({layout.npix}^2); "
            "rerun rule scan_transfer"
        )
    return st
