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


def read_candidate_masses(path, table: pd.DataFrame, candidates, columns) -> tuple[dict, dict]:
    """The MF masses of the candidates ``table`` (read from ``candidates``) and where they come from.

    Parameters
    ----------
    path : path-like
        ``results/masses/mf_<stage>.parquet`` (rule ``mf_masses``: one row per candidate, in
        candidates order).
    table : DataFrame
        The candidates (ra, dec, deg), in their file's order.
    candidates : path-like
        Their file, for the message.
    columns : iterable of str
        The mass columns to take (the catalogues' :data:`skyhunt.catalogues.files.MF_MASS_COLUMNS`:
        z, and m500c with its interval in M_sun).

    Returns
    -------
    masses : dict
        Column of ``columns`` -> values per candidate (float).
    notes : dict
        The catalogues' ``masses`` metadata.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the files when the rows are not those candidates.
    """
    mass = io.read_checked_table(path, ("ra", "dec", *columns))
    if len(mass) != len(table) or not (
        np.array_equal(mass["ra"].to_numpy(), table["ra"].to_numpy(float))
        and np.array_equal(mass["dec"].to_numpy(), table["dec"].to_numpy(float))
    ):
        raise io.InputFileError(f"{path}: its rows are not the candidates of {candidates}; rerun mf_masses")
    meta = io.read_table_meta(path)
    notes = {
        "source": "rule mf_masses: fixed-scale y0 through the Arnaud et al. (2010) Y-M relation",
        "redshift": meta.get("redshift", "true redshift of the matched halo"),
        **{
            k: meta[k]
            for k in ("reference_theta500_arcmin", "eddington", "y_scatter_ln", "interval")
            if k in meta
        },
    }
    return {c: mass[c].to_numpy(float) for c in columns}, notes


def read_cnn_masses(path) -> pd.DataFrame:
    """The CNN mass table (``masses/cnn_<stage>.parquet``, rule ``cnn_masses``): one row per halo
    (halo_id), with a finite, positive m500c (M_sun) and a finite, non-negative sigma_ln_m500c.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the file: missing or unreadable, a missing column, a halo in two rows, or a
        non-finite or non-positive mass or a non-finite or negative width.
    """
    columns = ("halo_id", "m500c", "sigma_ln_m500c")
    table = io.read_checked_table(path, columns)
    _require_finite(table, columns[1:], path)
    bad = np.flatnonzero(
        (table["m500c"].to_numpy(float) <= 0) | (table["sigma_ln_m500c"].to_numpy(float) < 0)
    )
    if bad.size:
        raise io.InputFileError(
            f"table {path}: m500c not positive or sigma_ln_m500c negative in rows {bad[:5].tolist()}"
        )
    twice = table["halo_id"].duplicated().to_numpy()
    if twice.any():
        raise io.InputFileError(
            f"table {path}: halos {table['halo_id'][twice].unique()[:5].tolist()} have two rows; "
            "rerun cnn_masses"
        )
    return table
