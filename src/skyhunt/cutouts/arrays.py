"""Reading the cutout arrays written by the ``cutouts`` rule (no torch needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io

#: What a cutout array file must hold, for error messages.
EXPECTED = "a float32 .npy array of shape (N, bands, npix, npix) written by the cutouts rule"

#: Bytes per chunk when scanning an array for non-finite values.
SCAN_BYTES = 32 * 2**20


def load_cutout_array(path) -> np.ndarray:
    """Memory-map a cutout array (N, bands, npix, npix) float32 in µK_CMB, checked.

    Every value is read once (in chunks of :data:`SCAN_BYTES`, so memory stays bounded) to make
    sure that none is NaN or infinite.

    Raises
    ------
    io.InputFileError
        Naming ``path``, if it is not such an array (no ``.npy`` header, a damaged header, a
        pickle, another dtype or shape) or if some cutouts hold non-finite values; the message
        gives the first few such rows and their count.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(len(np.lib.format.MAGIC_PREFIX))
        if magic != np.lib.format.MAGIC_PREFIX:
            raise io.InputFileError(
                f"{path}: expected {EXPECTED}, but it does not start with the .npy magic string "
                f"{np.lib.format.MAGIC_PREFIX!r} (found {magic!r}); rerun the cutouts rule"
            )
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise io.InputFileError(f"{path}: expected {EXPECTED}; cannot read it ({err})") from err
    if array.ndim != 4 or array.dtype != np.float32 or array.shape[2] != array.shape[3]:
        raise io.InputFileError(f"{path}: expected {EXPECTED}, got {array.dtype} {array.shape}")
    bad = nonfinite_rows(array)
    if len(bad):
        raise io.InputFileError(
            f"{path}: {len(bad)} of {len(array)} cutouts hold NaN or infinite values (rows "
            f"{first_few(bad)}); the file is damaged, rerun the cutouts rule"
        )
    return array


def nonfinite_rows(array: np.ndarray, chunk_bytes: int = SCAN_BYTES) -> np.ndarray:
    """Rows of ``array`` (first axis) holding a NaN or infinite value, read about ``chunk_bytes``
    at a time."""
    chunk = max(1, chunk_bytes // max(1, array[:1].nbytes))
    bad = []
    for start in range(0, len(array), chunk):
        x = np.asarray(array[start : start + chunk])
        finite = np.isfinite(x).reshape(len(x), -1).all(axis=1)
        bad.append(start + np.flatnonzero(~finite))
    return np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)


def first_few(values, n: int = 5) -> str:
    """``values`` for an error message: the first ``n``, then ``...`` if there are more."""
    values = list(np.asarray(values).tolist())
    return ", ".join(map(str, values[:n])) + (", ..." if len(values) > n else "")


def check_index_matches(index: pd.DataFrame, array: np.ndarray, index_path, array_path) -> None:
    """Fail unless the index has one row per cutout and the columns training needs."""
    io.require_columns(index, ("cutout_id", "split", "dropped", "label"), index_path)
    if len(index) != len(array):
        raise io.InputFileError(
            f"{array_path} holds {len(array)} cutouts but {index_path} lists {len(index)}"
        )
