"""The main run's finders on one batch's injected maps: the MF's and the detector's catalogue
entries, and the catalogue ensembles (issue 16).

Each finder runs as in the main run (:func:`skyhunt.mf.pipeline.run_matched_filter`; the
detector's :func:`skyhunt.detector.inference.detect` on the MF tiles, its cluster classes as
in rule ``catalogue_detector``; the cross-match :func:`skyhunt.catalogues.ensembles.combine`).
The ensembles' rank percentiles are taken against the *main run's* ensemble catalogue of the
entry's split (q = #{main entries with score <= s} / N), so that an injected entry gets the q,
and hence the EnsemblePROD and learned scores, it would have had in the main catalogue; the
learned combination is the main run's fit (weights in the catalogue's metadata), never refitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.catalogues.ensembles import combine
from skyhunt.catalogues.files import check_finite
from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.cutouts.layout import split_of
from skyhunt.detector.inference import detect
from skyhunt.detector.objects import CLUSTER_CLASSES
from skyhunt.evaluation.ensembles import LogisticCombination
from skyhunt.mf.tiles import make_layout
from skyhunt.sky.footprint import Footprint

#: The learned combination's feature names, in the order of its weights (rule catalogue_ensembles).
LEARNED_FEATURES = ("q_detector", "q_mf", "q_detector_q_mf")


def mf_entries(candidates: pd.DataFrame, footprint: Footprint, splits: dict) -> pd.DataFrame:
    """MF candidates as catalogue entries (rule ``catalogue_mf``): score = SNR, class, split."""
    return candidates.assign(
        score=candidates["snr"].to_numpy(float),
        **{"class": "cluster"},
        split=split_of(candidates["ra"].to_numpy(), footprint, splits),
    )


def detector_entries(
    module, nside: int, pixels, values, footprint: Footprint, tiles: dict, peaks: dict, splits: dict
) -> pd.DataFrame:
    """The detector's cluster entries on maps ``values`` (rules ``detect`` and ``catalogue_detector``).

    Parameters
    ----------
    module : skyhunt.detector.module.HeatmapDetector
        The trained detector.
    nside : int
    pixels : ndarray
        RING pixels of ``values``.
    values : ndarray, shape (npix, bands), float32
        The (injected) observed maps, µK_CMB.
    footprint : Footprint
    tiles, peaks, splits : dict
        Config ``mf.tiles``, ``detector.peaks``, ``cutouts.splits``.

    Returns
    -------
    DataFrame
        ra, dec (deg), class, prob, score (= prob), split; entries of class cluster or
        cluster_radio.
    """
    layout = make_layout(footprint, tiles["core_deg"], tiles["overlap_deg"], tiles["pixel_arcmin"])
    found = detect(module, layout, PatchInterpolator(nside, pixels), values, footprint, peaks)
    found = found[found["class"].isin(CLUSTER_CLASSES)].reset_index(drop=True)
    return found.assign(
        score=found["prob"].to_numpy(float), split=split_of(found["ra"].to_numpy(), footprint, splits)
    )


def learned_model(path) -> LogisticCombination:
    """The learned combination of the main run's ``ens_learned`` catalogue (its metadata)."""
    config = io.read_table_meta(path).get("config", {})
    try:
        weights = tuple(float(config["weights"][k]) for k in LEARNED_FEATURES)
        return LogisticCombination(float(config["intercept"]), weights)
    except (KeyError, TypeError, ValueError) as err:
        raise io.InputFileError(f"{path}: no learned combination in its metadata ({err!r})") from err


def reference_percentile(scores, splits, ref_scores, ref_splits) -> np.ndarray:
    """Rank percentile of each score among the reference scores of its split, in [0, 1].

    q = #{reference scores of the split <= s} / (their number), DeepSZ's q_i of
    :func:`skyhunt.evaluation.ensembles.rank_percentile` against a fixed reference; 0 in a
    split without reference entries.
    """
    scores, splits = np.asarray(scores, float), np.asarray(splits).astype(str)
    ref_scores, ref_splits = np.asarray(ref_scores, float), np.asarray(ref_splits).astype(str)
    q = np.zeros(scores.size)
    for split in np.unique(splits):
        ref = np.sort(ref_scores[ref_splits == split])
        rows = splits == split
        if ref.size:
            q[rows] = np.searchsorted(ref, scores[rows], side="right") / ref.size
    return q


def ensemble_entries(
    mf: pd.DataFrame,
    detector: pd.DataFrame,
    reference: pd.DataFrame,
    model: LogisticCombination,
    radius_arcmin: float,
) -> pd.DataFrame:
    """The catalogue ensembles of one set of MF and detector entries, on the main run's scale.

    Parameters
    ----------
    mf, detector : DataFrame
        Entries (ra, dec, score, class, split) of :func:`mf_entries`, :func:`detector_entries`.
    reference : DataFrame
        The main run's ensemble catalogue (split, score_mf, score_detector).
    model : LogisticCombination
        The main run's learned combination (:func:`learned_model`).
    radius_arcmin : float
        Cross-match radius (config ``catalogues.match_radius_arcmin``).

    Returns
    -------
    DataFrame
        The combined entries (:func:`skyhunt.catalogues.ensembles.combine`) with q_mf,
        q_detector, and the scores ``ens_prod`` (q_mf q_detector) and ``ens_learned``.
    """
    table = combine(mf, detector, radius_arcmin)
    for score, q in (("score_mf", "q_mf"), ("score_detector", "q_detector")):
        table[q] = reference_percentile(table[score], table["split"], reference[score], reference["split"])
    q_det, q_mf = table["q_detector"].to_numpy(), table["q_mf"].to_numpy()
    return table.assign(ens_prod=q_mf * q_det, ens_learned=model(q_det, q_mf))


def read_reference(path) -> pd.DataFrame:
    """The main run's ensemble catalogue (Parquet; split, score_mf, score_detector): the ranks' reference."""
    table = io.read_checked_table(path, ("split", "score_mf", "score_detector"))
    check_finite(table, ("score_mf", "score_detector"), path)
    return table
