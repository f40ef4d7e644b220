"""Catalogue-level ensembles of the MF and the CNN detector.

The two catalogues are cross-matched one to one within the match radius
(:func:`skyhunt.catalogues.crossmatch.match_one_to_one`, closest pairs first). A matched pair
becomes one entry at the MF's position (the matched filter's peak is the maximum-likelihood
position of the template under Gaussian noise; the detector's position stays in ``ra_detector``,
``dec_detector``) and the detector's class. An entry only one method found keeps its position
and gets the other method's *floor score*, :data:`FLOOR` = 0: below every score either method
writes (the MF writes SNR >= ``mf.snr_min`` > 0, the detector probabilities >=
``detector.peaks.prob_min`` >= 0), the convention of the cutout protocol ("0 without a
detection", DeepSZ 2.3); all missing scores then tie at the lowest rank.

Scores: rank percentiles ``q`` of each method's score within the entry's split
(:func:`skyhunt.evaluation.ensembles.rank_percentile`), then

- ``ens_prod``: q_mf * q_detector (DeepSZ's EnsemblePROD, section 3.2);
- ``ens_learned``: the logistic combination of q_detector, q_mf and their product
  (:class:`skyhunt.evaluation.ensembles.LogisticCombination`), fitted on the validation
  stripe's entries only, with the label "a qualifying halo within the match radius".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.catalogues.crossmatch import match_one_to_one
from skyhunt.evaluation.ensembles import LogisticCombination, rank_percentile

#: Score given to a method that did not find an entry (SNR and probability alike).
FLOOR = 0.0


def take_rows(values, rows: np.ndarray, fill) -> np.ndarray:
    """``values`` at ``rows``, ``fill`` where a row is -1 (no row: the appended last element).

    Parameters
    ----------
    values : ndarray
        One value per row of a table (any unit, kept).
    rows : ndarray of int
        Rows to take, -1 for none.
    fill : scalar
        The value of row -1 (NaN, a floor score, an empty string).
    """
    return np.append(values, fill)[rows]


def combine(mf: pd.DataFrame, detector: pd.DataFrame, radius_arcmin: float) -> pd.DataFrame:
    """The union of the two catalogues, matched pairs merged (module docstring).

    Parameters
    ----------
    mf, detector : DataFrame
        Catalogues with ra, dec (deg), score, class, split.
    radius_arcmin : float
        Match radius, arcmin.

    Returns
    -------
    DataFrame
        ra, dec, class, split, the columns of :data:`skyhunt.catalogues.files.ENSEMBLE_COLUMNS`
        but the ranks and the masses, ``mf_row`` and ``det_row`` (the entry's row in ``mf`` and in
        ``detector``, -1: none), one row per entry (matched pairs first, then MF-only, then detector-only).
    """
    i, j, sep = match_one_to_one(
        mf["ra"].to_numpy(),
        mf["dec"].to_numpy(),
        detector["ra"].to_numpy(),
        detector["dec"].to_numpy(),
        radius_arcmin,
    )
    mf_only = np.setdiff1d(np.arange(len(mf)), i)
    det_only = np.setdiff1d(np.arange(len(detector)), j)
    none = np.full(mf_only.size + det_only.size, -1)
    # row of each entry in either catalogue, -1 where that catalogue lacks it
    mf_row = np.concatenate([i, mf_only, none[mf_only.size :]])
    det_row = np.concatenate([j, none[: mf_only.size], det_only])

    has_mf = mf_row >= 0
    ra_mf = take_rows(mf["ra"].to_numpy(), mf_row, np.nan)
    dec_mf = take_rows(mf["dec"].to_numpy(), mf_row, np.nan)
    ra_det = take_rows(detector["ra"].to_numpy(), det_row, np.nan)
    dec_det = take_rows(detector["dec"].to_numpy(), det_row, np.nan)
    return pd.DataFrame(
        {
            "ra": np.where(has_mf, ra_mf, ra_det),
            "dec": np.where(has_mf, dec_mf, dec_det),
            "class": np.where(
                det_row >= 0, take_rows(detector["class"].to_numpy(), det_row, ""), "cluster"
            ).astype(str),
            "split": np.where(
                has_mf,
                take_rows(mf["split"].to_numpy(), mf_row, ""),
                take_rows(detector["split"].to_numpy(), det_row, ""),
            ).astype(str),
            "found_by": np.repeat(
                np.array(["both", "mf", "detector"]), [i.size, mf_only.size, det_only.size]
            ),
            "score_mf": take_rows(mf["score"].to_numpy(), mf_row, FLOOR).astype(float),
            "score_detector": take_rows(detector["score"].to_numpy(), det_row, FLOOR).astype(float),
            "ra_mf": ra_mf.astype(float),
            "dec_mf": dec_mf.astype(float),
            "ra_detector": ra_det.astype(float),
            "dec_detector": dec_det.astype(float),
            "separation_arcmin": np.concatenate([sep, np.full(none.size, np.nan)]),
            "mf_row": mf_row,
            "det_row": det_row,
        }
    )


def add_ranks(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with q_mf and q_detector: rank percentiles of the two scores within each split."""
    out = table.copy()
    for score, q in (("score_mf", "q_mf"), ("score_detector", "q_detector")):
        out[q] = np.zeros(len(out))
        for split in np.unique(out["split"].to_numpy()):
            rows = out["split"].to_numpy() == split
            out.loc[rows, q] = rank_percentile(out.loc[rows, score].to_numpy())
    return out


def prod_scores(table: pd.DataFrame) -> np.ndarray:
    """EnsemblePROD score of each ranked entry: q_mf * q_detector."""
    return table["q_mf"].to_numpy() * table["q_detector"].to_numpy()


def fit_learned(table: pd.DataFrame, true: np.ndarray, l2: float) -> LogisticCombination:
    """The logistic combination fitted on the validation entries of ``table`` (labels ``true``).

    Raises
    ------
    ValueError
        If the validation entries are all true or all false.
    """
    val = table["split"].to_numpy() == "validation"
    return LogisticCombination.fit(
        table["q_detector"].to_numpy()[val], table["q_mf"].to_numpy()[val], np.asarray(true, bool)[val], l2
    )
