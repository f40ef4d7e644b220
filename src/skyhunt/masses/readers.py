"""Checked readers of the masses stage; each fails naming the file and what is wrong with it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io

#: Candidate columns the mass estimate needs: position, SNR and the fixed-scale measurement.
FIXED_COLUMNS = ("ra", "dec", "snr", "y0_fixed", "snr_fixed")


def _require_finite(table: pd.DataFrame, columns, path) -> None:
    for c in columns:
        bad = np.flatnonzero(~np.isfinite(table[c].to_numpy(dtype=float)))
        if bad.size:
            raise io.InputFileError(f"table {path}: column {c!r} is not finite in rows {bad[:5].tolist()}")


def read_fixed_candidates(path) -> pd.DataFrame:
    """A stage's ``candidates.parquet`` with finite fixed-scale columns (:data:`FIXED_COLUMNS`).

    Raises
    ------
    skyhunt.io.InputFileError
        If the file is missing or unreadable, lacks a column (e.g. a table written before the
        fixed-scale measurement), or holds non-finite values.
    """
    table = io.read_checked_table(path, FIXED_COLUMNS)
    _require_finite(table, FIXED_COLUMNS, path)
    return table


def read_masses(path, columns) -> pd.DataFrame:
    """The mass table (``masses/mf_<stage>.parquet``, :data:`skyhunt.masses.pipeline.MASS_UNITS`)."""
    return io.read_checked_table(path, columns)


def read_cnn_masses(path) -> pd.DataFrame:
    """The CNN mass table (``masses/cnn_<stage>.parquet``, rule ``cnn_masses``): halo_id, and a
    finite, positive m500c (M_sun) and sigma_ln_m500c per row.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the file: missing or unreadable, a missing column, or a non-finite or
        non-positive mass or width.
    """
    columns = ("halo_id", "m500c", "sigma_ln_m500c")
    table = io.read_checked_table(path, columns)
    _require_finite(table, columns[1:], path)
    bad = np.flatnonzero(
        (table["m500c"].to_numpy(float) <= 0) | (table["sigma_ln_m500c"].to_numpy(float) < 0)
    )
    if bad.size:
        raise io.InputFileError(
            f"table {path}: m500c or sigma_ln_m500c not positive in rows {bad[:5].tolist()}"
        )
    return table
