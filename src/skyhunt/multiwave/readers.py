"""Checked readers of the Kosiba files: the instruments' cutout images, the dataset and the scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy.io import fits

from skyhunt import io
from skyhunt.cutouts.arrays import load_cutout_array
from skyhunt.optical.io import read_cutout_table

#: Columns of the Kosiba dataset table (one row per cutout of ``cutouts.npy``).
DATA_UNITS = {
    "candidate": "(row of the evaluation stage's candidates.parquet)",
    "ra": "deg",
    "dec": "deg",
    "snr": "SNR (MF)",
    "split": "RA stripe",
    "label": "(1: real cluster)",
    "reason": "label reason (skyhunt.vetting.labels.REASONS)",
}

#: Columns of a channel set's score table (one row per dataset row and seed).
SCORE_UNITS = {
    "candidate": "(row of the evaluation stage's candidates.parquet)",
    "split": "RA stripe",
    "label": "(1: real cluster)",
    "seed": "(index of the seed, 0..kosiba.seeds-1)",
    "probability": "probability of a real cluster",
}


def read_cutout_images(path, bands) -> tuple[pd.DataFrame, np.ndarray]:
    """The CUTOUTS table and the images (N, len(bands), n, n) float32 of a cutout file of
    :mod:`skyhunt.optical.io`; ``bands`` are the HDU name suffixes (``None``: the X-ray ``C<i>``).

    Raises
    ------
    io.InputFileError
        Naming the file, if an image is missing, of another shape, or not finite.
    """
    table = read_cutout_table(path)
    try:
        with fits.open(path) as hdul:
            images = np.stack(
                [
                    np.stack([hdul[ext if b is None else f"{ext}_{b.upper()}"].data for b in bands])
                    for ext in table["extname"]
                ]
            ).astype(np.float32)
    except (OSError, KeyError, ValueError) as err:
        raise io.InputFileError(f"{path}: cannot read the cutout images ({err})") from err
    if len(table) == 0:
        raise io.InputFileError(f"{path}: holds no cutouts")
    if not np.isfinite(images).all():
        raise io.InputFileError(f"{path}: cutouts hold NaN or infinite pixels")
    return table, images


def read_kosiba_data(table, array) -> tuple[pd.DataFrame, np.ndarray, list]:
    """The dataset table, its cutouts (checked: finite, one per row) and its channel names."""
    t = io.read_checked_table(table, tuple(DATA_UNITS))
    meta = io.read_table_meta(table)
    cutouts = load_cutout_array(array)
    channels = meta.get("channels")
    if len(cutouts) != len(t) or not channels or len(channels) != cutouts.shape[1]:
        raise io.InputFileError(f"{array} does not hold the cutouts of {table}; rerun kosiba_data")
    return t, cutouts, list(channels)


def read_kosiba_scores(path) -> pd.DataFrame:
    """A channel set's score table (:data:`SCORE_UNITS`), checked for finite probabilities."""
    t = io.read_checked_table(path, tuple(SCORE_UNITS))
    p = t["probability"].to_numpy(float)
    if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
        raise io.InputFileError(f"{path}: probabilities outside [0, 1] or not finite")
    return t
