"""File formats: partial-sky HEALPix FITS maps and Parquet tables, written atomically.

Partial maps use the HEALPix explicit-index convention (a binary table with a
``PIXEL`` column), which ``healpy.read_map(path, partial=True)`` reads. skyhunt
itself reads them with :func:`read_partial_map`, which never expands to the
full sky (an nside-8192 full-sky map would take 6 GB).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning


class InputFileError(RuntimeError):
    """A file skyhunt reads is missing, corrupt or of the wrong kind."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process umask, read once at import (reading it means setting it, which is not thread-safe).
_UMASK = _umask()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    A crash or exception leaves no file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_partial_map(
    path: str | os.PathLike,
    pixels: np.ndarray,
    values: np.ndarray,
    nside: int,
    unit: str = "uK_CMB",
    header: dict | None = None,
) -> None:
    """Write a partial HEALPix map (RING ordering, explicit pixel indices) to FITS.

    Parameters
    ----------
    path : path-like
        Output file; written atomically.
    pixels : ndarray of int
        RING pixel indices, strictly increasing.
    values : ndarray
        Map values at ``pixels`` (stored as float32), in ``unit``.
    nside : int
        HEALPix resolution.
    unit : str
        Unit written to ``TUNIT2``.
    header : dict, optional
        Extra header cards (name -> value or (value, comment)).
    """
    pixels = np.asarray(pixels, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    if pixels.shape != values.shape:
        raise ValueError(f"pixels {pixels.shape} and values {values.shape} differ in shape")
    cols = [
        fits.Column(name="PIXEL", format="K", array=pixels),
        fits.Column(name="SIGNAL", format="E", unit=unit, array=values),
    ]
    hdu = fits.BinTableHDU.from_columns(cols)
    hdr = hdu.header
    hdr["PIXTYPE"] = ("HEALPIX", "HEALPIX pixelisation")
    hdr["ORDERING"] = ("RING", "Pixel ordering scheme")
    hdr["NSIDE"] = (int(nside), "Resolution parameter of HEALPIX")
    hdr["INDXSCHM"] = ("EXPLICIT", "Indexing: IMPLICIT or EXPLICIT")
    hdr["OBJECT"] = ("PARTIAL", "Sky coverage: FULLSKY or PARTIAL")
    hdr["COORDSYS"] = ("C", "Equatorial (celestial) coordinates")
    hdr["BAD_DATA"] = (-1.6375e30, "Sentinel value given to bad pixels")
    for key, val in (header or {}).items():
        hdr[key] = val
    hdul = fits.HDUList([fits.PrimaryHDU(), hdu])
    for h in hdul:
        h.add_checksum(when="skyhunt")  # a fixed comment, not a timestamp: same inputs, same bytes
    with atomic_output(path) as tmp:
        hdul.writeto(tmp, overwrite=True)


def read_partial_map(path: str | os.PathLike, nside: int | None = None):
    """Read a partial HEALPix map written by :func:`write_partial_map`.

    Parameters
    ----------
    path : path-like
        FITS file.
    nside : int, optional
        If given, the file's ``NSIDE`` must equal it.

    Returns
    -------
    pixels : ndarray of int64
        RING pixel indices.
    values : ndarray of float32
        Map values (unit in ``header['TUNIT2']``).
    header : astropy.io.fits.Header
        The table header.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable, or not an explicit-index RING map.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"map file {path} does not exist")
    try:
        with warnings.catch_warnings(), fits.open(path, memmap=False) as hdul:
            warnings.simplefilter("ignore", AstropyUserWarning)
            if len(hdul) < 2:
                raise InputFileError(f"map file {path} has no binary table extension")
            if "CHECKSUM" in hdul[1].header and not (
                hdul[1].verify_checksum() == 1 and hdul[1].verify_datasum() == 1
            ):
                raise InputFileError(f"map file {path} fails its FITS checksum (corrupt or truncated)")
            hdr = hdul[1].header.copy()
            data = hdul[1].data
            missing = [k for k in ("PIXTYPE", "ORDERING", "NSIDE", "INDXSCHM") if k not in hdr]
            if missing:
                raise InputFileError(f"map file {path} lacks header keys {missing}")
            if hdr["PIXTYPE"] != "HEALPIX" or hdr["INDXSCHM"] != "EXPLICIT" or hdr["ORDERING"] != "RING":
                raise InputFileError(
                    f"map file {path}: expected an explicit-index RING HEALPix map, got "
                    f"PIXTYPE={hdr['PIXTYPE']}, INDXSCHM={hdr['INDXSCHM']}, ORDERING={hdr['ORDERING']}"
                )
            pixels = np.array(data["PIXEL"], dtype=np.int64)
            values = np.array(data["SIGNAL"], dtype=np.float32)
    except InputFileError:
        raise
    except Exception as exc:  # astropy raises many types for truncated/corrupt FITS
        raise InputFileError(f"map file {path} is not a readable FITS map: {exc}") from exc
    if nside is not None and int(hdr["NSIDE"]) != nside:
        raise InputFileError(f"map file {path} has NSIDE={hdr['NSIDE']}, expected {nside}")
    if not np.all(np.isfinite(values)):
        raise InputFileError(f"map file {path} contains non-finite values")
    return pixels, values, hdr


def read_partial_maps(paths: list, nside: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read partial maps that cover the same pixels into one (npix, nmaps) float32 array.

    Parameters
    ----------
    paths : list of path-like
        Map files written by :func:`write_partial_map`.
    nside : int, optional
        Required NSIDE of every file.

    Returns
    -------
    pixels : ndarray of int64
        The shared RING pixel indices.
    maps : ndarray, shape (len(pixels), len(paths)), float32
        One column per file.

    Raises
    ------
    InputFileError
        If a file is missing, corrupt, or covers other pixels than the first.
    """
    pixels = maps = None
    for k, path in enumerate(paths):
        pix, values, _ = read_partial_map(path, nside=nside)
        if pixels is None:
            pixels = pix
            maps = np.empty((pix.size, len(paths)), dtype=np.float32)
        elif not np.array_equal(pix, pixels):
            raise InputFileError(f"map file {path} covers different pixels from {paths[0]}")
        maps[:, k] = values
    return pixels, maps


def write_table(path: str | os.PathLike, columns: dict, units: dict, meta: dict | None = None) -> None:
    """Write a Parquet table atomically, recording column units in the schema metadata.

    Parameters
    ----------
    path : path-like
        Output ``.parquet`` file.
    columns : dict
        Column name -> 1-D array.
    units : dict
        Column name -> unit string; stored as JSON under the ``units`` key.
    meta : dict, optional
        Extra JSON-serialisable metadata stored under the ``skyhunt`` key.
    """
    table = pa.table(columns)
    metadata = {b"units": json.dumps(units).encode()}
    if meta:
        metadata[b"skyhunt"] = json.dumps(meta, sort_keys=True).encode()
    table = table.replace_schema_metadata(metadata)
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)


def read_table(path: str | os.PathLike):
    """Read a Parquet table written by :func:`write_table`.

    Returns
    -------
    table : pandas.DataFrame
    units : dict
        Column name -> unit string.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"table {path} does not exist")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise InputFileError(f"table {path} is not a readable Parquet file: {exc}") from exc
    meta = table.schema.metadata or {}
    units = json.loads(meta.get(b"units", b"{}"))
    return table.to_pandas(), units


def require_columns(table, columns, path) -> None:
    """Fail with :class:`InputFileError` naming ``path`` unless ``table`` has every one of ``columns``."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFileError(f"table {path} lacks columns {missing}")


def read_checked_table(path: str | os.PathLike, columns):
    """A table of :func:`read_table` that has every one of ``columns`` (else :class:`InputFileError`
    naming ``path`` and the missing columns)."""
    table, _ = read_table(path)
    require_columns(table, columns, path)
    return table


def read_checked_csv(path: str | os.PathLike, columns, what: str):
    """A CSV table with every one of ``columns``, as pandas reads it; else :class:`InputFileError`
    naming ``path`` and ``what`` it should have been (e.g. "remedy table")."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise InputFileError(f"{path}: not a readable {what} ({err})") from err
    require_columns(table, columns, path)
    return table


def read_table_meta(path: str | os.PathLike) -> dict:
    """The ``skyhunt`` metadata of a Parquet table written by :func:`write_table` ({} if none)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"table {path} does not exist")
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:
        raise InputFileError(f"table {path} is not a readable Parquet file: {exc}") from exc
    return json.loads(meta.get(b"skyhunt", b"{}"))
