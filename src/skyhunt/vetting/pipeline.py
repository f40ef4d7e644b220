"""The vetting rules (issue 17; beyond DeepSZ): ``vetting_data``, ``train_vetter``, ``vet_candidates``
and ``catalogue_vetted``.

``vetting_data`` cuts, with the cutout code (:func:`skyhunt.cutouts.extract.extract_cutouts`, the
geometry of config ``cutouts``), one cutout centred on every MF candidate of a noise stage from
that stage's maps, into one ``.npy`` array (the project's compact store), beside a table of the
candidates' RA stripe, features (:mod:`skyhunt.vetting.features`) and truth labels
(:mod:`skyhunt.vetting.labels`). A candidate too close to the footprint's edge for its whole
cutout gets the nearest centre that fits (``cutout_offset_arcmin`` records the shift). Both
vetters are trained on the training stripe only; the validation stripe gives the CNN's best
checkpoint and the catalogue thresholds; the test stripe is for the metrics.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from skyhunt import io
from skyhunt.catalogues.files import MF_MASS_COLUMNS, write_catalogue
from skyhunt.cutouts.arrays import load_cutout_array
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts
from skyhunt.cutouts.grid import CutoutGeometry, edge_margin_arcmin, tan_project
from skyhunt.cutouts.layout import split_of
from skyhunt.masses.readers import read_candidate_masses
from skyhunt.metrics import f1_at, f1_curve
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_halos, read_sources
from skyhunt.vetting.classical import classical_scores, fit_classical
from skyhunt.vetting.features import MF_COLUMNS, candidate_features
from skyhunt.vetting.labels import LABEL_UNITS, label_candidates, resolve_labels

if TYPE_CHECKING:
    from skyhunt.vetting.models import VetterScorer

log = logging.getLogger("skyhunt.vetting")

#: Columns of the vetting table besides the features and labels.
BASE_UNITS = {
    "candidate": "(row of the stage's candidates.parquet)",
    "ra": "deg",
    "dec": "deg",
    "split": "RA stripe",
    "cutout_ra": "deg (cutout centre)",
    "cutout_dec": "deg (cutout centre)",
    "cutout_offset_arcmin": "arcmin (candidate from the cutout centre; > 0 only at the footprint edge)",
}

#: Columns of the vetting score table.
VETTING_SCORE_UNITS = {
    "candidate": "(row of the stage's candidates.parquet)",
    "split": "RA stripe",
    "label": "(1: real cluster)",
    "reason": "label reason",
    "snr": "SNR (MF)",
    "p_cnn": "probability of a real cluster (CNN vetter)",
    "p_classical": "probability of a real cluster (gradient boosting)",
}

#: Halo and source columns the labels need.
HALO_LABEL_COLUMNS = ("halo_id", "ra", "dec", "m_vir", "z")


def vetting_units(features: pd.DataFrame) -> dict:
    """Units of the vetting table: :data:`BASE_UNITS`, the features (named by their candidate
    column or as derived), then :data:`LABEL_UNITS`."""
    derived = {
        "sigma_y": "Compton-y (local noise: y0 / snr)",
        "source_arcmin": "arcmin (to the nearest MF-removed source, capped)",
        "brighter_arcmin": "arcmin (to the nearest brighter candidate, capped)",
        "brighter_snr_ratio": "(SNR over that candidate's; 0: none)",
    }
    return {
        **BASE_UNITS,
        **{f"f_{c}": derived.get(c, f"candidate column {c}") for c in features.columns},
        **LABEL_UNITS,
    }


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The feature columns (``f_*``) of a vetting table, in table order."""
    return [c for c in table.columns if c.startswith("f_")]


def cutout_centres(ra, dec, footprint: Footprint, geometry: CutoutGeometry, margin_arcmin: float):
    """Centres (deg) of cutouts holding each position: the position itself, or the nearest centre
    whose whole cutout stays ``margin_arcmin`` inside the footprint; and the shift (arcmin)."""
    box = footprint.padded(-geometry.reach_deg(margin_arcmin))
    cra = np.clip(ra, box.ra_min, box.ra_max)
    cdec = np.clip(dec, box.dec_min, box.dec_max)
    xi, eta = tan_project(cra, cdec, ra, dec)
    return cra, cdec, np.degrees(np.hypot(xi, eta)) * 60.0


def run_vetting_data(
    *,
    footprint: dict,
    nside: int,
    cutouts: dict,
    labels: dict,
    positive: dict,
    splits: dict,
    stage: str,
    candidates,
    removed_sources,
    maps: list,
    halos,
    sources,
    table,
    array,
    threads: int = 1,
) -> None:
    """Cutouts centred on the stage's MF candidates, their features and truth labels.

    Parameters
    ----------
    footprint, cutouts, splits : dict
        Config ``sky.footprint``, ``cutouts`` (size, npix, interpolation, edge margin) and
        ``cutouts.splits``.
    nside : int
        HEALPix resolution of the maps.
    labels, positive : dict
        Config ``vetting.labels`` and ``cutouts.positive`` (its defaults).
    stage : str
        The noise stage.
    candidates, removed_sources : path-like
        The stage's MF candidates and the point sources it removed.
    maps : list of path-like
        The stage's observed maps, one per band in config order.
    halos, sources : path-like
        The truth: halo and source tables (labels only).
    table, array : path-like
        Outputs: the vetting table (Parquet, :func:`vetting_units`), the cutouts (``.npy``, shape
        (N, bands, npix, npix), float32, µK_CMB), both in candidate order.
    threads : int
        Threads of the extraction.
    """
    cand = io.read_checked_table(candidates, ("ra", "dec", *MF_COLUMNS))
    removed = io.read_checked_table(removed_sources, ("ra", "dec"))
    fp = Footprint.from_config(footprint)
    geometry = CutoutGeometry.from_config(cutouts)
    features = candidate_features(cand, removed)
    truth = label_candidates(
        cand,
        read_halos(halos, HALO_LABEL_COLUMNS),
        read_sources(sources, ("ra", "dec")),
        resolve_labels(labels, positive),
    )
    ra, dec = cand["ra"].to_numpy(float), cand["dec"].to_numpy(float)
    cra, cdec, shift = cutout_centres(ra, dec, fp, geometry, edge_margin_arcmin(cutouts, nside))
    t0 = time.perf_counter()
    pixels, values = io.read_partial_maps(maps, nside)
    out = np.empty((len(cand), len(maps), geometry.npix, geometry.npix), dtype=np.float32)
    extract_cutouts(
        PatchInterpolator(nside, pixels),
        values,
        cra,
        cdec,
        geometry,
        cutouts["interpolation"],
        out=out,
        threads=max(int(threads), 1),
    )
    with io.atomic_output(array) as tmp, open(tmp, "wb") as f:  # a file: np.save would add ".npy" to a name
        np.save(f, out, allow_pickle=False)
    columns = {
        "candidate": np.arange(len(cand), dtype=np.int64),
        "ra": ra,
        "dec": dec,
        "split": split_of(ra, fp, splits),
        "cutout_ra": cra,
        "cutout_dec": cdec,
        "cutout_offset_arcmin": shift,
        **{f"f_{c}": features[c].to_numpy() for c in features.columns},
        **{c: truth[c].to_numpy() for c in truth.columns},
    }
    units = vetting_units(features)
    io.write_table(table, columns, units, meta={"stage": stage, "labels": resolve_labels(labels, positive)})
    counts = truth["reason"].value_counts()
    log.info(
        "stage %s: %d candidates cut in %.1f s (%d shifted at the edge); %s",
        stage,
        len(cand),
        time.perf_counter() - t0,
        int(np.sum(shift > 0)),
        ", ".join(f"{r} {counts.get(r, 0)}" for r in counts.index),
    )


def read_vetting(table, array) -> tuple[pd.DataFrame, np.ndarray]:
    """The vetting table and its cutouts, checked to match (one row per cutout)."""
    t = io.read_checked_table(table, ("candidate", "split", "label", "reason", "f_snr"))
    cutouts = load_cutout_array(array)
    if len(cutouts) != len(t):
        raise io.InputFileError(
            f"{array} holds {len(cutouts)} cutouts, {table} {len(t)} candidates; rerun vetting_data"
        )
    return t, cutouts


def split_rows(t: pd.DataFrame) -> dict:
    """Row numbers of each RA stripe; the training and validation ones must hold both classes."""
    split, label = t["split"].to_numpy(), t["label"].to_numpy(int)
    rows = {s: np.flatnonzero(split == s) for s in ("train", "validation", "test")}
    for s in ("train", "validation"):
        if np.unique(label[rows[s]]).size < 2:
            raise io.InputFileError(f"the {s} stripe's candidates hold one class only; the vetters need both")
    return rows


def load_vetter(model_path, accelerator: str = "auto") -> VetterScorer:
    """The network of ``train_vetter``, on the GPU if ``accelerator`` allows one, else the CPU
    (read with torch alone, :meth:`VetterScorer.from_checkpoint`)."""
    from skyhunt.cnn.device import Device  # torch: only the jobs that run a network import it
    from skyhunt.vetting.models import VetterScorer

    try:
        module = VetterScorer.from_checkpoint(model_path)
    except Exception as err:
        raise io.InputFileError(f"{model_path}: not a readable skyhunt vetter checkpoint ({err})") from err
    return module.to("cuda" if Device.detect(accelerator).accelerator == "gpu" else "cpu")


def score_summary(score: np.ndarray, label: np.ndarray, rows: dict) -> dict:
    """Test AUC, average precision and F1 (at the validation stripe's best-F1 threshold) of ``score``."""
    val, test = rows["validation"], rows["test"]
    threshold, val_f1 = f1_curve(score[val], label[val]).best
    both = np.unique(label[test]).size == 2
    return {
        "test_auc": float(roc_auc_score(label[test], score[test])) if both else None,
        "test_ap": float(average_precision_score(label[test], score[test])) if both else None,
        "validation_f1": float(val_f1),
        "threshold": float(threshold),
        "test_f1": float(f1_at(score[test], label[test].astype(bool), threshold)),
    }


def run_vet_candidates(
    *,
    classical: dict,
    accelerator: str,
    batch_size: int,
    seed: int,
    stage: str,
    table,
    array,
    model,
    scores,
    summary,
) -> None:
    """Score every candidate with the CNN vetter and the gradient-boosting vetter (fitted here on the
    training stripe's features); summarise both and the raw SNR on the test stripe.

    Parameters
    ----------
    classical : dict
        Config ``vetting.classical``.
    accelerator : str
        Config ``cnn.accelerator``.
    batch_size : int
        Cutouts per forward pass (config ``vetting.cnn.batch_size``).
    seed : int
        Run seed (the classical model's stream ``vetting_classical``).
    stage : str
        The noise stage.
    table, array, model : path-like
        The vetting table and cutouts, and the CNN vetter of ``train_vetter``.
    scores, summary : path-like
        Outputs: Parquet (:data:`VETTING_SCORE_UNITS`, candidate order) and JSON (per method:
        test AUC, AP and F1, and the label reasons' counts per stripe).
    """
    data, cutouts = read_vetting(table, array)
    rows = split_rows(data)
    label = data["label"].to_numpy(int)
    from skyhunt.vetting.models import predict_logits  # torch: only the jobs that run a network import it

    module = load_vetter(model, accelerator)
    try:
        p_cnn = 1.0 / (1.0 + np.exp(-predict_logits(module, cutouts, batch_size)))
    except ValueError as err:
        raise io.InputFileError(f"{model}: on the cutouts of {array}, {err}") from err
    features = data[feature_columns(data)]
    gbm = fit_classical(
        features.iloc[rows["train"]],
        label[rows["train"]],
        classical,
        int(component_rng(seed, "vetting_classical").integers(2**31)),
    )
    p_classical = classical_scores(gbm, features)
    snr = data["f_snr"].to_numpy(float)
    io.write_table(
        scores,
        {
            "candidate": data["candidate"].to_numpy(),
            "split": data["split"].to_numpy(),
            "label": label,
            "reason": data["reason"].to_numpy(),
            "snr": snr,
            "p_cnn": p_cnn,
            "p_classical": p_classical,
        },
        VETTING_SCORE_UNITS,
        meta={"stage": stage, "trained_on": "train stripe"},
    )
    out = {
        "stage": stage,
        "methods": {
            name: score_summary(s, label, rows)
            for name, s in (("mf_snr", snr), ("cnn", p_cnn), ("classical", p_classical))
        },
        "reasons": {
            s: data["reason"].iloc[r].value_counts().sort_index().astype(int).to_dict()
            for s, r in rows.items()
        },
    }
    with io.atomic_output(summary) as tmp:
        tmp.write_text(json.dumps(out, indent=2) + "\n")
    for name, res in out["methods"].items():
        log.info("%-9s test AUC %s, AP %s, F1 %.3f", name, res["test_auc"], res["test_ap"], res["test_f1"])


def run_catalogue_vetted(
    *,
    footprint: dict,
    splits: dict,
    stage: str,
    candidates,
    scores,
    masses,
    cnn_fits,
    cnn_parquet,
    classical_fits,
    classical_parquet,
) -> None:
    """The vetted MF catalogues: every MF candidate of the evaluation stage, score = a vetter's
    probability, with its MF mass.

    Parameters
    ----------
    footprint, splits : dict
        Config ``sky.footprint`` and ``cutouts.splits`` (the entries' RA stripes).
    stage : str
        The evaluation stage.
    candidates, scores : path-like
        The stage's MF candidates and their vetting scores (``vet_candidates``), in candidate order.
    masses : path-like
        The candidates' MF masses (rule ``mf_masses``, in candidate order;
        :func:`skyhunt.masses.readers.read_candidate_masses`).
    cnn_fits, cnn_parquet, classical_fits, classical_parquet : path-like
        Outputs (:func:`skyhunt.catalogues.files.write_catalogue`).
    """
    s = io.read_checked_table(scores, ("candidate", "p_cnn", "p_classical", "snr"))
    cand = io.read_checked_table(
        candidates, ("ra", "dec", "snr", "scale_arcmin", "scale_index", "y0", "tile")
    )
    same = len(s) == len(cand) and np.array_equal(s["snr"].to_numpy(), cand["snr"].to_numpy(float))
    if not same or not np.array_equal(s["candidate"].to_numpy(), np.arange(len(cand))):
        raise io.InputFileError(
            f"{scores} does not score the candidates of {candidates}; rerun vet_candidates"
        )
    mass, notes = read_candidate_masses(masses, cand, candidates, MF_MASS_COLUMNS)
    base = cand.assign(
        **{"class": "cluster"},
        split=split_of(cand["ra"].to_numpy(float), Footprint.from_config(footprint), splits),
        p_cnn=s["p_cnn"].to_numpy(),
        p_classical=s["p_classical"].to_numpy(),
        **mass,
    )
    for method, column, fits_path, parquet_path in (
        ("vetted_cnn", "p_cnn", cnn_fits, cnn_parquet),
        ("vetted_classical", "p_classical", classical_fits, classical_parquet),
    ):
        meta = {"stage": stage, "config": {"score": column, "splits": splits}, "masses": notes}
        write_catalogue(base.assign(score=base[column].to_numpy()), method, meta, fits_path, parquet_path)
    log.info("vetted catalogues: %d entries each", len(base))
