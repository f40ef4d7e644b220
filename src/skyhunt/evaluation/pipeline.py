"""The ``ensembles`` and ``table1`` rules (DeepSZ section 3.2, Table 1)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cutouts.arrays import first_few
from skyhunt.cutouts.readers import read_index
from skyhunt.evaluation.ensembles import METHODS, choose_thresholds, predict
from skyhunt.evaluation.table1 import confusion, markdown, table1

log = logging.getLogger("skyhunt.evaluation")

#: The splits the ensembles score (training cutouts are not evaluated).
SPLITS = ("validation", "test")

#: Units of the ensemble score table.
ENSEMBLE_SCORE_UNITS = {
    "cutout_id": "",
    "split": "",
    "label": "",
    "cnn": "probability (Platt-calibrated)",
    "mf": "SNR (0: no detection)",
    "detector": "probability of the detector's best cluster entry (0: none)",
    "q_cnn": "rank percentile within split",
    "q_mf": "rank percentile within split",
    "prod": "q_cnn * q_mf",
    "learned": "probability (logistic, fitted on validation)",
    **{f"{m}_pos": "positive at the validation threshold" for m in METHODS},
}


def load_method_scores(index_path, cnn_path, mf_path, detector_path=None) -> pd.DataFrame:
    """CNN probability, MF SNR (and detector score) of every cutout of one stage, beside its split and label.

    Parameters
    ----------
    index_path : path-like
        Cutout index (``results/cutouts/index.parquet``).
    cnn_path : path-like
        The stage's CNN scores (``score_cnn``).
    mf_path : path-like
        The stage's per-cutout MF SNR (``match_mf``).
    detector_path : path-like, optional
        The detector's cutout scores (``detector_cutout_scores``, column ``prob``); only the
        evaluation stage has them.

    Returns
    -------
    DataFrame
        cutout_id, split, label (bool), cnn, mf (and detector) in index order.
    """
    index = read_index(index_path, ("cutout_id", "split", "label"))
    out = index[["cutout_id", "split"]].copy()
    out["label"] = index["label"].to_numpy(bool)
    sources = [(cnn_path, "probability", "cnn"), (mf_path, "snr", "mf")]
    if detector_path is not None:
        sources.append((detector_path, "prob", "detector"))
    for path, column, name in sources:
        table = io.read_checked_table(path, ("cutout_id", column))
        if not np.array_equal(table["cutout_id"].to_numpy(), out["cutout_id"].to_numpy()):
            raise io.InputFileError(
                f"{path}: its cutout_id column does not follow the cutout index {index_path}; "
                "rerun the rule that made it"
            )
        out[name] = table[column].to_numpy(np.float64)
        bad = out["cutout_id"].to_numpy()[~np.isfinite(out[name].to_numpy())]
        if len(bad):
            raise io.InputFileError(
                f"{path}: column {column} is NaN or infinite for {len(bad)} cutouts (cutout_id "
                f"{first_few(bad)}); rerun the rule that made it"
            )
    return out


def run_ensembles(*, l2: float, stage: str, index, cnn, mf, detector, scores, thresholds) -> None:
    """Choose every method's threshold on validation and score the validation and test cutouts.

    Parameters
    ----------
    l2 : float
        L2 penalty of the learned ensemble (config ``evaluation.learned.l2``).
    stage : str
        The noise stage evaluated.
    index, cnn, mf, detector : path-like
        The cutout index and the stage's CNN, MF and detector cutout scores (see
        :func:`load_method_scores`).
    scores : path-like
        Output Parquet table, one row per validation and test cutout (:data:`ENSEMBLE_SCORE_UNITS`).
    thresholds : path-like
        Output JSON: the stage and, per method, its threshold(s) with validation and test F1.
    """
    table = load_method_scores(index, cnn, mf, detector)
    table = table[table["split"].isin(SPLITS)].reset_index(drop=True)
    val = table[table["split"] == "validation"]
    chosen = choose_thresholds(
        val["cnn"].to_numpy(),
        val["mf"].to_numpy(),
        val["label"].to_numpy(),
        l2,
        detector=val["detector"].to_numpy(),
    )
    columns = {c: [] for c in ENSEMBLE_SCORE_UNITS}
    for name in SPLITS:
        part = table[table["split"] == name]
        pred = predict(
            part["cnn"].to_numpy(), part["mf"].to_numpy(), chosen, detector=part["detector"].to_numpy()
        )
        for c in ("cutout_id", "split", "label"):
            columns[c].append(part[c].to_numpy())
        for c, values in pred.items():
            columns[c].append(values)
        f1 = {m: confusion(pred[f"{m}_pos"], part["label"].to_numpy())["f1"] for m in METHODS}
        for m in METHODS:
            chosen[m][f"{name}_f1"] = f1[m]
    io.write_table(
        scores,
        {c: np.concatenate(v) for c, v in columns.items()},
        ENSEMBLE_SCORE_UNITS,
        meta={"stage": stage},
    )
    with io.atomic_output(thresholds) as tmp:
        tmp.write_text(json.dumps({"stage": stage, "methods": chosen}, indent=2) + "\n")
    for m in METHODS:
        log.info(
            "%-8s validation F1 %.3f, test F1 %.3f",
            m,
            chosen[m]["validation_f1"],
            chosen[m]["test_f1"],
        )


def read_thresholds(path) -> dict:
    """The JSON written by :func:`run_ensembles`; fails naming the file if it is not one."""
    try:
        out = json.loads(open(path, encoding="utf-8").read())
        methods = set(out["methods"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise io.InputFileError(
            f"{path}: not a thresholds file written by the ensembles rule ({err!r})"
        ) from err
    if "stage" not in out or methods != set(METHODS):
        raise io.InputFileError(
            f"{path}: not a thresholds file written by the ensembles rule (expected a stage and the "
            f"methods {sorted(METHODS)}, got keys {sorted(out)} and methods {sorted(methods)})"
        )
    return out


def read_ensemble_scores(path, columns=tuple(ENSEMBLE_SCORE_UNITS)) -> pd.DataFrame:
    """The score table of :func:`run_ensembles`; fail naming the file if it lacks one of ``columns``
    (default: all of :data:`ENSEMBLE_SCORE_UNITS`)."""
    return io.read_checked_table(path, columns)


def read_ensembles(scores_path, thresholds_path) -> tuple[pd.DataFrame, dict]:
    """(score table, thresholds per method) written by :func:`run_ensembles`."""
    return read_ensemble_scores(scores_path), read_thresholds(thresholds_path)["methods"]


def run_table1(*, bootstrap: dict, seed: int, scores, thresholds, csv, md) -> None:
    """Write DeepSZ Table 1 (test metrics with bootstrap intervals) as CSV and Markdown.

    The CSV has one row per method (:func:`skyhunt.evaluation.table1.table1`); the Markdown adds
    the table of F1 gains of the ensembles over the single methods.

    Parameters
    ----------
    bootstrap : dict
        Config ``evaluation.bootstrap`` (``samples``, ``interval``: the central fraction).
    seed : int
        Run seed (the resamples).
    scores, thresholds : path-like
        The outputs of :func:`run_ensembles`.
    csv, md : path-like
        Output tables.
    """
    test = read_ensemble_scores(scores, ("split", "label", "cnn", "mf", "detector"))
    test = test[test["split"] == "test"]
    chosen = read_thresholds(thresholds)
    if test.empty:
        raise io.InputFileError(f"{scores}: no test cutouts")
    table, gains = table1(
        test["cnn"].to_numpy(),
        test["mf"].to_numpy(),
        test["label"].to_numpy(bool),
        chosen["methods"],
        bootstrap["samples"],
        bootstrap["interval"],
        seed,
        detector=test["detector"].to_numpy(),
    )
    n = {"test": len(test), "positives": int(test["label"].sum()), "samples": bootstrap["samples"]}
    text = markdown(table, gains, chosen["stage"], bootstrap["interval"], n)
    with io.atomic_output(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with io.atomic_output(md) as tmp:
        tmp.write_text(text)
    log.info("\n%s", text)
