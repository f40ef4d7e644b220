"""Reading the sky stage's artifacts: the halo and point-source tables and the CMB spectrum.

Every reader fails with :class:`skyhunt.io.InputFileError` naming the file (and the missing
columns), so that a stale or foreign file is reported where it is read, not as a ``KeyError``
deep in a computation. Each consumer names the columns it needs.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from astropy.table import Table

from skyhunt import io
from skyhunt.sky.sources import flux_column

#: Halo columns that place and qualify a halo: halo_id, ra, dec (deg), z, m_vir (M_sun).
HALO_CUT_COLUMNS = ("halo_id", "ra", "dec", "z", "m_vir")

#: Halo columns the SZ maps are painted from (deg, arcmin, arcmin², keV, km/s).
HALO_SZ_COLUMNS = ("ra", "dec", "theta500_arcmin", "y5r500_arcmin2", "t_keV", "v_los")


def read_halos(path, columns: Iterable[str]) -> pd.DataFrame:
    """The halo table (``halos.parquet``, columns and units of :data:`skyhunt.sky.halos.HALO_UNITS`).

    Parameters
    ----------
    path : path-like
        The table.
    columns : iterable of str
        Columns the caller needs; a missing one fails naming the file and the column.
    """
    return io.read_checked_table(path, columns)


def read_sources(path, columns: Iterable[str]) -> pd.DataFrame:
    """The point-source catalogue (``sources.parquet``; fluxes in mJy, see
    :func:`skyhunt.sky.sources.source_units`), with the ``columns`` the caller needs."""
    return io.read_checked_table(path, columns)


def source_flux_columns(bands) -> tuple[str, ...]:
    """Source columns that place a source and give its flux in every band (``sky.bands`` entries)."""
    return ("ra", "dec", "population", *(flux_column(b) for b in bands))


def read_cmb_spectrum(path) -> np.ndarray:
    """C_ell^TT in µK_CMB^2 from the ECSV written by :func:`skyhunt.sky.pipeline.run_cmb_spectrum`."""
    try:
        table = Table.read(path, format="ascii.ecsv")
        return np.asarray(table["cl_tt"], dtype=float)
    except Exception as exc:
        raise io.InputFileError(f"CMB spectrum {path} is not a readable ECSV spectrum: {exc}") from exc


def read_ivar_maps(paths, nside: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance maps (µK^-2 per pixel, :func:`skyhunt.sky.depth.run_depth_map`), checked > 0.

    Parameters
    ----------
    paths : list of path-like
        One map per band, all on the same pixels.
    nside : int
        Required NSIDE.

    Returns
    -------
    pixels : ndarray of int64
    ivar : ndarray, shape (len(pixels), len(paths)), float32
    """
    pixels, ivar = io.read_partial_maps(paths, nside=nside)
    for k, path in enumerate(paths):
        bad = ~(ivar[:, k] > 0)
        if bad.any():
            raise io.InputFileError(f"inverse-variance map {path} has {int(bad.sum())} pixels <= 0")
    return pixels, ivar
