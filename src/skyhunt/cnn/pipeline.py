"""The ``train_cnn`` and ``score_cnn`` rules (DeepSZ section 2.2)."""

from __future__ import annotations

import logging

import numpy as np

from skyhunt import io
from skyhunt.cnn.calibration import PlattScaling
from skyhunt.cnn.data import SplitRows
from skyhunt.cnn.device import Device
from skyhunt.cnn.scoring import CutoutScorer, predict_scores
from skyhunt.cutouts.arrays import check_index_matches, load_cutout_array
from skyhunt.metrics import f1_at, f1_curve

log = logging.getLogger("skyhunt.cnn")

#: Units of the score table columns.
CNN_SCORE_UNITS = {"cutout_id": "", "split": "", "raw_score": "log-odds", "probability": ""}


def load_model(model_path, accelerator: str = "auto") -> CutoutScorer:
    """The trained classifier of ``train_cnn``, on the GPU if ``accelerator`` allows one, else CPU
    (read with torch alone, :meth:`CutoutScorer.from_checkpoint`)."""
    try:
        module = CutoutScorer.from_checkpoint(model_path)
    except Exception as err:
        raise io.InputFileError(f"{model_path}: not a readable skyhunt CNN checkpoint ({err})") from err
    return module.to("cuda" if Device.detect(accelerator).accelerator == "gpu" else "cpu")


def read_platt(scores_path) -> PlattScaling:
    """The Platt calibration stored in the metadata of a score table written by :func:`run_score_cnn`."""
    meta = io.read_table_meta(scores_path)
    try:
        return PlattScaling(float(meta["platt_slope"]), float(meta["platt_intercept"]))
    except (KeyError, TypeError, ValueError) as err:
        raise io.InputFileError(
            f"{scores_path}: no Platt parameters (platt_slope, platt_intercept) in its metadata; "
            "rerun score_cnn"
        ) from err


def run_score_cnn(*, accelerator: str, batch_size: int, model, array, index, scores) -> None:
    """Score every cutout with the chosen model; calibrate with Platt scaling fitted on validation.

    Parameters
    ----------
    accelerator : str
        Config ``cnn.accelerator``.
    batch_size : int
        Cutouts per inference batch (config ``cnn.training.batch_size``).
    model : path-like
        Checkpoint written by ``train_cnn``.
    array, index : path-like
        The noise stage's cutouts and the shared cutout index.
    scores : path-like
        Output Parquet table: ``cutout_id, split, raw_score, probability`` in index order; the
        Platt parameters are in its ``skyhunt`` metadata.

    Raises
    ------
    io.InputFileError
        Before anything is written, naming the file: an unreadable model, a damaged or
        non-finite cutout array, one of another shape than the model's, an index that does not
        match it, or a model that gives NaN or infinite scores (with the first rows).
    """
    module = load_model(model, accelerator)
    cutouts = load_cutout_array(array)
    cutout_index, _ = io.read_table(index)
    check_index_matches(cutout_index, cutouts, index, array)
    expected = (module.bands, module.npix, module.npix)
    if cutouts.shape[1:] != expected:
        raise io.InputFileError(
            f"{model} was trained on cutouts of shape {expected} (bands, npix, npix), but "
            f"{array} holds {cutouts.shape[1:]}; rerun train_cnn"
        )
    labels = cutout_index["label"].to_numpy(bool)
    try:
        raw = predict_scores(module, cutouts, np.arange(len(cutout_index)), batch_size)
    except ValueError as err:
        raise io.InputFileError(f"{model}: on the cutouts of {array}, {err}") from err
    rows = SplitRows.from_index(cutout_index)
    platt = PlattScaling.fit(raw[rows.validation], labels[rows.validation])
    probability = platt(raw)
    threshold, f1 = f1_curve(probability[rows.validation], labels[rows.validation]).best
    test, truth = probability[rows.test] >= threshold, labels[rows.test]
    test_f1 = f1_at(probability[rows.test], truth, threshold)
    log.info(
        "Platt slope %.3f, intercept %.3f; validation F1 %.3f at probability >= %.3f; test F1 %.3f there "
        "(%d of %d test positives found, %d false positives)",
        platt.slope,
        platt.intercept,
        f1,
        threshold,
        test_f1,
        (test & truth).sum(),
        truth.sum(),
        (test & ~truth).sum(),
    )
    io.write_table(
        scores,
        {
            "cutout_id": cutout_index["cutout_id"].to_numpy(),
            "split": cutout_index["split"].to_numpy(),
            "raw_score": raw.astype(np.float64),
            "probability": probability,
        },
        CNN_SCORE_UNITS,
        meta={"platt_slope": platt.slope, "platt_intercept": platt.intercept, "fitted_on": "validation"},
    )
