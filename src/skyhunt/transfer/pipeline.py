"""The rules of the transfer study (issue 17; DeepShadows, Tanoglidis et al. 2021):
the source run's CNN on a target run's cutouts as it is (zero-shot), fine-tuned on N labelled
target cutouts, and trained from scratch on the same N; the matched filter on the target without
retuning and with its noise re-estimated from the target maps; their test metrics over seeds."""

from __future__ import annotations

import logging
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch

from skyhunt import io
from skyhunt.cnn.data import SplitRows
from skyhunt.cnn.pipeline import load_model
from skyhunt.cnn.scoring import predict_scores
from skyhunt.cnn.training import Device, file_sha256
from skyhunt.cutouts.arrays import load_cutout_array
from skyhunt.cutouts.readers import read_index
from skyhunt.evaluation.pipeline import read_thresholds
from skyhunt.metrics import f1_curve
from skyhunt.mf.pipeline import run_match_mf, run_matched_filter
from skyhunt.sky.components import component_rng
from skyhunt.transfer.data import labelled_subset
from skyhunt.transfer.metrics import stripe_metrics, summarise, summary_markdown
from skyhunt.transfer.readers import (
    TRANSFER_METRIC_UNITS,
    TRANSFER_SCORE_UNITS,
    read_transfer_metrics,
    read_transfer_scores,
)
from skyhunt.transfer.training import MODES, torch_versions, train_labelled

log = logging.getLogger("skyhunt.transfer")


def run_transfer_zero_shot(*, accelerator: str, batch_size: int, model, array, scores) -> None:
    """Score every target cutout with the source's CNN as it is (zero-shot).

    Reads no target label: the inputs are the source model and the target's cutout array only.
    The threshold is the source's own (the log-odds of best F1 on the source's validation
    stripe, in the model's record).

    Parameters
    ----------
    accelerator : str
        Config ``cnn.accelerator``.
    batch_size : int
        Cutouts per forward pass.
    model : path-like
        The source's exported classifier.
    array : path-like
        The target's cutout array (its evaluation stage).
    scores : path-like
        Output: ``row, raw_score`` for every cutout (:data:`TRANSFER_SCORE_UNITS`); metadata
        ``threshold`` and ``threshold_from``.
    """
    module = load_model(model, accelerator)
    record = _model_record(model)
    cutouts = load_cutout_array(array)
    if cutouts.shape[1:] != (module.bands, module.npix, module.npix):
        raise io.InputFileError(
            f"{array}: cutouts of shape {cutouts.shape[1:]}, but the source model {model} takes "
            f"({module.bands}, {module.npix}, {module.npix}); the target run must "
            "have the source's bands and cutout size"
        )
    rows = np.arange(len(cutouts))
    raw = predict_scores(module, cutouts, rows, batch_size)
    log.info("zero-shot: scored %d target cutouts; source threshold %.3f", len(rows), record["threshold"])
    io.write_table(
        scores,
        {"row": rows, "raw_score": raw.astype(np.float64)},
        TRANSFER_SCORE_UNITS,
        meta={"threshold": record["threshold"], "threshold_from": "source validation"},
    )


def _model_record(model) -> dict:
    """The ``skyhunt`` record (chosen rung, threshold) of an exported classifier."""
    record = torch.load(model, map_location="cpu", weights_only=True).get("skyhunt") or {}
    if "threshold" not in record:
        raise io.InputFileError(f"{model}: no skyhunt record with a threshold; rerun train_cnn")
    return record


def subset_seed(seed: int, n: str, replicate: int) -> tuple[np.random.Generator, int]:
    """The stream of the labelled subset of (N, replicate) and the training seed drawn from it,
    shared by fine-tuning and training from scratch (stream ``transfer_<N>_<replicate>``)."""
    rng = component_rng(seed, f"transfer_{n}_{replicate}")
    return rng, int(rng.integers(2**31 - 1))


def run_transfer_train(
    *,
    mode: str,
    n: str,
    replicate: str,
    seed: int,
    cnn: dict,
    training: dict,
    transfer: dict,
    source_model,
    array,
    index,
    workdir,
    scores,
    callbacks=(),
) -> None:
    """Fine-tune the source's CNN (``mode`` fine_tune) or train a new one (scratch) on N labelled
    target training-stripe positives and their negatives; score the validation and test stripes.

    Parameters
    ----------
    mode : str
        ``fine_tune`` or ``scratch`` (wildcard).
    n : str
        N: an entry of ``transfer.n_labelled`` (wildcard; ``all`` takes every training positive).
    replicate : str
        The seed replicate, 0 .. ``transfer.seeds`` - 1 (wildcard).
    seed : int
        Config ``seed``.
    cnn, training : dict
        Config ``cnn`` (``architecture``, ``accelerator``, ``optimizer``) and ``cnn.training``
        (``batch_size``, ``max_batches_per_ratio``, ``augment``) keys.
    transfer : dict
        Config ``transfer`` without ``pairs``.
    source_model : path-like
        The source's exported classifier (also read for scratch: its record is fingerprinted).
    array, index : path-like
        The target's cutouts and index (labels of the training and validation stripes).
    workdir : path-like
        Checkpoints (not an output; reused only under the same fingerprint).
    scores : path-like
        Output: ``row, raw_score`` of the validation then test rows; metadata: threshold (log-odds,
        best F1 on the target validation stripe), the labelled rows' counts, the training record.
    callbacks : sequence of lightning.Callback
        Extra callbacks (tests).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    cutout_index = read_index(index, ("split", "dropped", "label"))
    labels = cutout_index["label"].to_numpy(bool)
    train = SplitRows.from_index(cutout_index).train
    rng, train_seed = subset_seed(seed, n, int(replicate))
    positives, negatives = labelled_subset(
        train[labels[train]],
        train[~labels[train]],
        None if n == "all" else int(n),
        transfer["negatives_per_positive"],
        rng,
    )
    fingerprint = {
        "mode": mode,
        "n": n,
        "replicate": int(replicate),
        "seed": seed,
        "cnn": cnn,
        "training": training,
        "transfer": transfer,
        "device": asdict(Device.detect(cnn["accelerator"])),
        "inputs": {
            name: file_sha256(p) for name, p in (("model", source_model), ("array", array), ("index", index))
        },
        "versions": torch_versions(),
    }
    result = train_labelled(
        mode,
        source_model,
        cnn,
        training,
        transfer,
        array,
        index,
        positives,
        negatives,
        train_seed,
        fingerprint,
        workdir,
        callbacks,
    )
    io.write_table(
        scores,
        {"row": result["rows"], "raw_score": result["raw_score"]},
        TRANSFER_SCORE_UNITS,
        meta={
            "threshold": result["threshold"],
            "threshold_from": "target validation",
            "n_positives": len(positives),
            "n_negatives": len(negatives),
            **{k: result[k] for k in ("validation_f1", "best_validation_loss", "steps", "device")},
        },
    )


def run_transfer_mf_maps(
    *,
    target: dict,
    maps: list,
    spectrum,
    halos,
    index,
    candidates,
    removed_sources,
    cutout_snr_table,
    sources=None,
    transfer=None,
    threads: int = 1,
) -> None:
    """The matched filter on the target's maps with its noise estimated from them (``mf.noise:
    maps``), then matched to the target's cutouts: :func:`skyhunt.mf.pipeline.run_matched_filter`
    and :func:`skyhunt.mf.pipeline.run_match_mf` with the target's configuration.

    Parameters
    ----------
    target : dict
        The target run's params of those two steps: ``nside``, ``footprint``, ``bands``,
        ``point_sources``, ``red_noise``, ``mf`` (with ``noise: maps``), ``components``,
        ``stage``, ``scan_filter``, ``cutouts``, ``matching``.
    maps, spectrum, halos, index, sources, transfer : path-like
        The target's observed maps of its evaluation stage, CMB spectrum, halos, cutout index,
        source catalogue (not with point sources found in the maps) and scan transfer (scan
        filter on).
    candidates, removed_sources, cutout_snr_table : path-like
        Outputs, as those of ``matched_filter`` and ``match_mf``.
    threads : int
        Threads of the filter.
    """
    if target["mf"]["noise"] != "maps":
        raise ValueError(f"transfer_mf_maps: expected mf.noise 'maps', got {target['mf']['noise']!r}")
    run_matched_filter(
        **{
            k: target[k]
            for k in ("nside", "footprint", "bands", "point_sources", "mf", "components", "stage")
        },
        maps=maps,
        spectrum=spectrum,
        candidates=candidates,
        removed_sources=removed_sources,
        sources=sources,
        scan_filter=target["scan_filter"],
        transfer=transfer,
        red_noise=target["red_noise"],
        threads=threads,
    )
    run_match_mf(
        cutouts=target["cutouts"],
        matching=target["matching"],
        candidates=candidates,
        halos=halos,
        index=index,
        cutout_snr_table=cutout_snr_table,
    )


def _cutout_snr(path, cutout_ids: np.ndarray) -> np.ndarray:
    """The per-cutout MF SNR of a ``cutout_snr`` table, checked to follow the index."""
    table = io.read_checked_table(path, ("cutout_id", "snr"))
    if not np.array_equal(table["cutout_id"].to_numpy(), cutout_ids):
        raise io.InputFileError(f"{path}: its cutout_id column does not follow the target's cutout index")
    return table["snr"].to_numpy(float)


def _scores_at(path, n_rows: int) -> tuple[np.ndarray, dict]:
    """A transfer score table spread over the index's rows (NaN where a row is not scored)."""
    table, meta = read_transfer_scores(path)
    rows = table["row"].to_numpy()
    if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
        raise io.InputFileError(f"{path}: rows outside the target's cutout index of {n_rows} rows")
    out = np.full(n_rows, np.nan)
    out[rows] = table["raw_score"].to_numpy()
    return out, meta


def run_transfer_metrics(
    *,
    pair: str,
    n_labelled: list,
    seeds: int,
    index,
    zero_shot,
    fine_tune: list,
    scratch: list,
    mf,
    source_thresholds,
    mf_maps,
    metrics,
) -> None:
    """Test-stripe F1 (at each method's threshold), ROC AUC and confusion counts of every method
    on one target.

    Methods: ``zero_shot`` (the source's CNN and threshold), ``fine_tune`` and ``scratch`` (per
    N and seed; thresholds from the target validation stripe), ``mf`` (the target run's own
    matched filter at the source's MF validation threshold: no retuning) and ``mf_maps`` (the MF
    with ``mf.noise: maps`` on the target, thresholded on the target validation stripe).

    Parameters
    ----------
    pair : str
        The pair's name (``transfer.pairs[].name``).
    n_labelled : list
        Config ``transfer.n_labelled`` (as strings), the order of ``fine_tune`` and ``scratch``.
    seeds : int
        Config ``transfer.seeds``: replicates per N (seed-major within N).
    index : path-like
        The target's cutout index.
    zero_shot, mf, mf_maps : path-like
        The zero-shot scores, the target's own ``cutout_snr`` and that of ``transfer_mf_maps``.
    fine_tune, scratch : list of path-like
        Score tables, N-major then replicate.
    source_thresholds : path-like
        The source's ``ensembles/thresholds.json`` (the MF's validation threshold).
    metrics : path-like
        Output table (:data:`TRANSFER_METRIC_UNITS`).
    """
    cutout_index = read_index(index, ("cutout_id", "split", "label"))
    labels = cutout_index["label"].to_numpy(bool)
    split = cutout_index["split"].to_numpy()
    test, validation = split == "test", split == "validation"
    ids = cutout_index["cutout_id"].to_numpy()
    keys = [(str(n), r) for n in n_labelled for r in range(seeds)]
    for name, paths in (("fine_tune", fine_tune), ("scratch", scratch)):
        if len(paths) != len(keys):
            raise ValueError(f"{name}: {len(paths)} score tables for {len(keys)} (N, seed) pairs")
    rows = []

    def add(method, n, seed, n_pos, scores, threshold):
        if np.isnan(scores[test]).any():
            raise io.InputFileError(f"{method} (N {n}, seed {seed}): not every test cutout is scored")
        rows.append(
            {"pair": pair, "method": method, "n_labelled": n, "seed": seed, "n_positives": n_pos}
            | stripe_metrics(scores[test], labels[test], threshold)
        )

    zs, meta = _scores_at(zero_shot, len(ids))
    add("zero_shot", "", 0, 0, zs, meta["threshold"])
    for method, paths in (("fine_tune", fine_tune), ("scratch", scratch)):
        for (n, r), path in zip(keys, paths, strict=True):
            values, meta = _scores_at(path, len(ids))
            add(method, n, r, int(meta["n_positives"]), values, meta["threshold"])
    source_mf = read_thresholds(source_thresholds)["methods"]["mf"]["threshold"]
    add("mf", "", 0, 0, _cutout_snr(mf, ids), source_mf)
    snr = _cutout_snr(mf_maps, ids)
    add("mf_maps", "", 0, 0, snr, f1_curve(snr[validation], labels[validation]).best[0])
    table = pd.DataFrame(rows)
    for r in table.itertuples(index=False):
        if r.method in ("zero_shot", "mf", "mf_maps") or r.seed == 0:
            log.info("%s %s N=%s: test F1 %.3f, AUC %.3f", pair, r.method, r.n_labelled or "-", r.f1, r.auc)
    io.write_table(metrics, {c: table[c].to_numpy() for c in TRANSFER_METRIC_UNITS}, TRANSFER_METRIC_UNITS)


def run_transfer_table(*, metrics: list, missing: list, csv, md) -> None:
    """Every pair's test F1 and AUC, mean, spread and range over seeds (CSV and Markdown).

    Parameters
    ----------
    metrics : list of path-like
        The metrics table of every pair whose target run exists.
    missing : list of str
        The results_dir of the pairs left out (no target run), for the log.
    csv, md : path-like
        Outputs.
    """
    for path in missing:
        log.warning("transfer: no target run in %s (no cutouts/index.parquet); left out", path)
    if not metrics:
        raise ValueError(
            'transfer: none of the target runs of transfer.pairs exists; run one first (README, "Transfer")'
        )
    table = pd.concat([read_transfer_metrics(p) for p in metrics], ignore_index=True)
    summary = summarise(table)
    with io.atomic_output(csv) as tmp:
        summary.to_csv(tmp, index=False)
    with io.atomic_output(md) as tmp:
        tmp.write_text(summary_markdown(summary))
