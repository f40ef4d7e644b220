"""Reading the cutout arrays written by the ``cutouts`` rule (no torch needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io


def load_cutout_array(path) -> np.ndarray:
    """Memory-map a cutout array (N, bands, npix, npix) float32, or fail naming the file."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise io.InputFileError(f"{path}: not a readable .npy cutout array ({err})") from err
    if array.ndim != 4 or array.dtype != np.float32 or array.shape[2] != array.shape[3]:
        raise io.InputFileError(
            f"{path}: expected a float32 array of shape (N, bands, npix, npix), "
            f"got {array.dtype} {array.shape}"
        )
    return array


def check_index_matches(index: pd.DataFrame, array: np.ndarray, index_path, array_path) -> None:
    """Fail unless the index has one row per cutout and the columns training needs."""
    io.require_columns(index, ("cutout_id", "split", "dropped", "label"), index_path)
    if len(index) != len(array):
        raise io.InputFileError(
            f"{array_path} holds {len(array)} cutouts but {index_path} lists {len(index)}"
        )
