"""The main run's cutout classifiers on one batch's injected maps: the CNN and Table 1's
ensembles (issue 16).

Every injection is scored as DeepSZ scores a halo (section 3.5; :mod:`skyhunt.evaluation.completeness`):
by the cutout of the main run's grid that holds it in its central square
(:func:`skyhunt.cutouts.labels.central_holding_cutout`), when that cutout is a validation or test
cutout (the splits the ensembles score; the CNN was trained on the others). That cutout is cut from
the injected maps as rule ``cutouts`` cuts it (same centre, geometry and interpolation) and scored by
the evaluation stage's CNN with the main run's Platt calibration. Its MF score is the largest SNR that
DeepSZ's matching rule (:func:`skyhunt.mf.matching.cutout_snr`) assigns to it from the batch's MF
candidates, the injections joining the sky's halos as the most massive halos (they lie away from the
sky's bright clusters, ``selection.avoid``). EnsemblePROD's and the learned ensemble's rank
percentiles are taken against the main run's cutouts of the same split, so that an injected cutout
gets the q it would have had in the main run (as :mod:`skyhunt.selection.finders` does for the
catalogues); every method is positive at its Table 1 validation threshold (``thresholds.json``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.cutouts.grid import CutoutGeometry, Grid
from skyhunt.cutouts.labels import central_holding_cutout
from skyhunt.evaluation.ensembles import AndThresholds, LogisticCombination
from skyhunt.evaluation.pipeline import SPLITS
from skyhunt.mf.matching import cutout_snr
from skyhunt.selection.finders import reference_percentile
from skyhunt.selection.methods import CUTOUT_METHODS


def injection_cutouts(
    index: pd.DataFrame, geometry: CutoutGeometry, stride_arcmin: float, central_arcmin: float, ra, dec
) -> np.ndarray:
    """Row of the cutout index that scores each position, or -1.

    The cutout holding the position in its central square (:func:`central_holding_cutout`), if it is
    a cutout of :data:`skyhunt.evaluation.pipeline.SPLITS`.

    Parameters
    ----------
    index : DataFrame
        The main run's cutout index (cutout_id, ra, dec, grid_row, grid_col, split), in grid order.
    geometry : CutoutGeometry
    stride_arcmin, central_arcmin : float
        Config ``cutouts.stride_arcmin``, ``cutouts.central_arcmin``.
    ra, dec : array_like
        Positions, deg.
    """
    grid = Grid.from_index(index, stride_arcmin)
    rows = central_holding_cutout(grid, geometry, central_arcmin, ra, dec)
    held = rows >= 0
    rows[held] = np.where(np.isin(index["split"].to_numpy()[rows[held]], SPLITS), rows[held], -1)
    return rows


def injected_cutout_snr(
    candidates: pd.DataFrame,
    halos: pd.DataFrame,
    injections: pd.DataFrame,
    index: pd.DataFrame,
    geometry: CutoutGeometry,
    stride_arcmin: float,
    radius_arcmin: float,
) -> np.ndarray:
    """Largest MF SNR assigned to each cutout of ``index`` (DeepSZ 2.3) on injected maps.

    The injections join the sky's halos as the most massive ones (M_vir = inf), so that a
    detection within ``radius_arcmin`` of an injection goes to the injection's cutout.

    Parameters
    ----------
    candidates : DataFrame
        The batch's MF candidates (ra, dec, snr).
    halos : DataFrame
        The sky's halos (halo_id, ra, dec, m_vir).
    injections : DataFrame
        The batch's injections (ra, dec).
    index : DataFrame
        The cutout index, in grid order.
    geometry : CutoutGeometry
    stride_arcmin, radius_arcmin : float
        Config ``cutouts.stride_arcmin`` and the match radius (arcmin).

    Returns
    -------
    ndarray
        SNR per cutout of ``index`` (0 without a detection).
    """
    first_id = int(halos["halo_id"].max()) + 1 if len(halos) else 0
    injected = pd.DataFrame(
        {
            "halo_id": first_id + np.arange(len(injections)),
            "ra": injections["ra"].to_numpy(float),
            "dec": injections["dec"].to_numpy(float),
            "m_vir": np.full(len(injections), np.inf),
        }
    )
    every = pd.concat([halos[["halo_id", "ra", "dec", "m_vir"]], injected], ignore_index=True)
    return cutout_snr(candidates, every, index, geometry, stride_arcmin, radius_arcmin)["snr"].to_numpy()


def cutout_method_scores(cnn, mf, split, reference: pd.DataFrame, thresholds: dict) -> dict:
    """The scores of :data:`CUTOUT_METHODS` of cutouts, on the main run's scale.

    Parameters
    ----------
    cnn, mf : array_like
        Calibrated CNN probability and largest MF SNR of each cutout.
    split : array_like of str
        Each cutout's split (one of :data:`skyhunt.evaluation.pipeline.SPLITS`).
    reference : DataFrame
        The main run's ensemble scores (split, cnn, mf; rule ``ensembles``): the rank reference.
        Given the main run's own cutouts, the scores are that table's (``prod``, ``learned``,
        ``and_pos``).
    thresholds : dict
        The methods of Table 1's ``thresholds.json`` (the learned weights, the AND thresholds).

    Returns
    -------
    dict
        Method of :data:`CUTOUT_METHODS` -> score per cutout (:data:`CUTOUT_SCORES`).
    """
    cnn, mf = np.asarray(cnn, float), np.asarray(mf, float)
    q_cnn = reference_percentile(cnn, split, reference["cnn"], reference["split"])
    q_mf = reference_percentile(mf, split, reference["mf"], reference["split"])
    passes = AndThresholds.from_thresholds(thresholds)(mf, cnn)
    return {
        "cnn": cnn,
        "cut_and": passes.astype(float),
        "cut_prod": q_cnn * q_mf,
        "cut_learned": LogisticCombination.from_thresholds(thresholds)(q_cnn, q_mf),
    }


def cutout_thresholds(thresholds: dict) -> dict:
    """The threshold of each score of :func:`cutout_method_scores` (Table 1's; 1 for EnsembleAND's)."""
    return {
        m: 1.0 if key == "and" else float(thresholds[key]["threshold"]) for m, key in CUTOUT_METHODS.items()
    }


#: The main run's ensemble-score column (:data:`skyhunt.evaluation.pipeline.ENSEMBLE_SCORE_UNITS`)
#: of each score of :func:`cutout_method_scores`.
ENSEMBLE_SCORE_COLUMNS = {"cnn": "cnn", "cut_and": "and_pos", "cut_prod": "prod", "cut_learned": "learned"}


def main_run_scores(
    index: pd.DataFrame,
    ensemble: pd.DataFrame,
    geometry: CutoutGeometry,
    stride_arcmin: float,
    central_arcmin: float,
    ra,
    dec,
) -> tuple[np.ndarray, dict]:
    """The main run's cutout scores of positions (the sky's own halos): Table 1's scores of the
    cutouts that hold them (:func:`injection_cutouts`), as rule ``ensembles`` wrote them.

    Parameters
    ----------
    index : DataFrame
        The cutout index (cutout_id, ra, dec, grid_row, grid_col, split), in grid order.
    ensemble : DataFrame
        The main run's ensemble scores (cutout_id and the columns of :data:`ENSEMBLE_SCORE_COLUMNS`)
        of every validation and test cutout.
    geometry : CutoutGeometry
    stride_arcmin, central_arcmin : float
        Config ``cutouts.stride_arcmin``, ``cutouts.central_arcmin`` (arcmin).
    ra, dec : array_like
        Positions, deg.

    Returns
    -------
    scored : ndarray of bool
        Positions with a scoring cutout.
    scores : dict
        Method -> score of each scored position (:data:`CUTOUT_SCORES`; EnsembleAND's as 1.0 or 0.0).
    """
    rows = injection_cutouts(index, geometry, stride_arcmin, central_arcmin, ra, dec)
    scored = rows >= 0
    at = pd.Index(ensemble["cutout_id"].to_numpy()).get_indexer(index["cutout_id"].to_numpy()[rows[scored]])
    if np.any(at < 0):
        raise ValueError("the ensemble scores lack validation or test cutouts of the cutout index")
    return scored, {m: ensemble[c].to_numpy(float)[at] for m, c in ENSEMBLE_SCORE_COLUMNS.items()}
