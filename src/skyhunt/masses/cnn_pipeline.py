"""The ``cnn_masses`` rule and the positive cutouts of both CNN mass rules (issue 16; beyond
DeepSZ), with torch alone (no Lightning import); ``train_cnn_mass`` is in
:mod:`skyhunt.masses.cnn_training`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cnn.device import Device
from skyhunt.cutouts.arrays import check_index_matches, load_cutout_array
from skyhunt.cutouts.readers import read_index
from skyhunt.masses.estimator import MassBatches, MassEstimator, predict_ln_mass
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.masses")

#: Columns of the CNN mass table and their units.
CNN_MASS_UNITS = {
    "cutout_id": "",
    "halo_id": "(the cutout's qualifying halo)",
    "z": "(true redshift of the halo, an input of the network)",
    "m500c": "M_sun",
    "sigma_ln_m500c": "(predicted standard deviation of ln M500c)",
    "m500c_true": "M_sun",
    "split": "",
}

#: Where the network's redshift comes from, for the outputs' metadata.
REDSHIFT_NOTE = "true redshift of the cutout's qualifying halo (an input of the network), not a measured one"


@dataclass(frozen=True)
class Positives:
    """The positive cutouts of one stage with their halo's redshift and true M500c (M_sun)."""

    array: np.ndarray
    index: pd.DataFrame
    dataset: MassBatches
    rows: dict  # split name -> row numbers of its positives
    m500c: np.ndarray  # per row of the array; NaN on negatives
    z: np.ndarray


def read_positives(array, index, halos) -> Positives:
    """The cutouts, the index and, for each positive cutout, its halo's z and M500c from ``halos``.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the file: a damaged or non-finite array, an index that does not match it or lacks
        ``halo_id``, a positive whose halo is not in the halo table, or a halo whose M500c is not
        finite and positive or whose redshift is not finite and non-negative.
    """
    cutouts = load_cutout_array(array)
    table = read_index(index, ("cutout_id", "split", "dropped", "label", "halo_id"))
    check_index_matches(table, cutouts, index, array)
    halo = read_halos(halos, ("halo_id", "m500c", "z"))
    positive = table["label"].to_numpy(bool)
    at = pd.Index(halo["halo_id"].to_numpy()).get_indexer(table["halo_id"].to_numpy())
    missing = np.flatnonzero(positive & (at < 0))
    if missing.size:
        raise io.InputFileError(
            f"{index}: the halos of {missing.size} positive cutouts are not in {halos} "
            f"(halo_id {table['halo_id'].to_numpy()[missing[:5]].tolist()})"
        )
    pick = np.where(positive, at, 0)
    m500c = np.where(positive, halo["m500c"].to_numpy(float)[pick], np.nan)
    z = np.where(positive, halo["z"].to_numpy(float)[pick], np.nan)
    bad = positive & ~((m500c > 0) & np.isfinite(m500c) & (z >= 0) & np.isfinite(z))
    if bad.any():
        raise io.InputFileError(
            f"{halos}: halos {table['halo_id'].to_numpy()[bad][:5].tolist()} of positive cutouts "
            "have no finite positive m500c or finite non-negative z"
        )
    split = table["split"].to_numpy()
    rows = {s: np.flatnonzero(positive & (split == s)) for s in ("train", "validation", "test")}
    for s in ("train", "validation"):
        if rows[s].size < 2:
            raise io.InputFileError(f"{index}: the {s} split holds {rows[s].size} positive cutouts, need 2")
    dataset = MassBatches(cutouts, np.nan_to_num(z), np.log(np.nan_to_num(m500c, nan=1.0)))
    return Positives(cutouts, table, dataset, rows, m500c, z)


def load_mass_model(model_path, accelerator: str = "auto") -> MassEstimator:
    """The network of ``train_cnn_mass``, on the GPU if ``accelerator`` allows one, else the CPU
    (read with torch alone, :meth:`MassEstimator.from_checkpoint`)."""
    try:
        module = MassEstimator.from_checkpoint(model_path)
    except Exception as err:
        raise io.InputFileError(
            f"{model_path}: not a readable skyhunt mass-network checkpoint ({err})"
        ) from err
    return module.to("cuda" if Device.detect(accelerator).accelerator == "gpu" else "cpu")


def run_cnn_masses(
    *, accelerator: str, batch_size: int, stage: str, model, array, index, halos, table
) -> None:
    """Mass of the qualifying halo of every validation and test positive cutout, from the network.

    Parameters
    ----------
    accelerator : str
        Config ``cnn.accelerator``.
    batch_size : int
        Cutouts per forward pass (config ``masses.cnn.batch_size``).
    stage : str
        The noise stage of ``array`` (config ``evaluation.stage``).
    model : path-like
        Checkpoint of ``train_cnn_mass``.
    array, index, halos : path-like
        The stage's cutouts, the cutout index and the halo table.
    table : path-like
        Output Parquet table (:data:`CNN_MASS_UNITS`), validation then test positives in index order.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the file: as :func:`read_positives`, an unreadable model, one trained on another
        number of bands, or non-finite predictions.
    """
    module = load_mass_model(model, accelerator)
    data = read_positives(array, index, halos)
    if data.array.shape[1] != module.bands:
        raise io.InputFileError(
            f"{model} was trained on {module.bands} bands, but {array} holds "
            f"{data.array.shape[1]}; rerun train_cnn_mass"
        )
    rows = np.concatenate([data.rows["validation"], data.rows["test"]])
    try:
        ln_m, sigma = predict_ln_mass(module, data.dataset, rows, batch_size)
    except ValueError as err:
        raise io.InputFileError(f"{model}: on the cutouts of {array}, {err}") from err
    columns = {
        "cutout_id": data.index["cutout_id"].to_numpy()[rows],
        "halo_id": data.index["halo_id"].to_numpy(np.int64)[rows],
        "z": data.z[rows],
        "m500c": np.exp(ln_m),
        "sigma_ln_m500c": sigma,
        "m500c_true": data.m500c[rows],
        "split": data.index["split"].to_numpy()[rows],
    }
    meta = {"stage": stage, "redshift": REDSHIFT_NOTE, "trained_on": "positive cutouts of the train split"}
    io.write_table(table, columns, CNN_MASS_UNITS, meta=meta)
    test = columns["split"] == "test"
    ln_ratio = ln_m[test] - np.log(columns["m500c_true"][test])
    log.info(
        "%d validation and %d test positives; test ln(M_est / M_true): mean %.3f, std %.3f",
        data.rows["validation"].size,
        data.rows["test"].size,
        ln_ratio.mean() if ln_ratio.size else np.nan,
        ln_ratio.std(ddof=1) if ln_ratio.size > 1 else np.nan,
    )
