"""Deep-CEE's metrics: precision, recall and F1 at 11 confidence thresholds, with a physical match.

Chan & Stott (2019), section 3.1: a detection matches a true cluster when its centre lies
within ``match_kpc`` (100 kpc) of the true centre, the distance taken as proper distance at the
true cluster's redshift (angular separation times the angular-diameter distance of the sky's
colossus cosmology). At a confidence threshold t the detections with confidence > t count
(the paper's "greater than"); each is matched to at most one true cluster of its field and
each true cluster to at most one detection, greedily by increasing distance. TP = matched
detections, FP = the other detections, FN = the true clusters left unmatched (so TP + FN is
the number of true clusters, as in the paper's Table 2); precision TP / (TP + FP), recall
TP / (TP + FN), F1 their harmonic mean, each 0 when its denominator is 0 (the paper's row at
100 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.catalogues.crossmatch import unit_vectors
from skyhunt.sky.cosmology import colossus

#: Deep-CEE's eleven confidence thresholds, 0 to 100 per cent.
THRESHOLDS = np.round(np.linspace(0.0, 1.0, 11), 2)

#: Arcseconds per radian.
ARCSEC_PER_RAD = 180.0 * 3600.0 / np.pi


def angular_diameter_distance_mpc(z, cosmology: dict) -> np.ndarray:
    """Proper angular-diameter distance (Mpc, not Mpc/h) at redshift ``z`` in the sky's cosmology."""
    cosmo = colossus(cosmology)
    return np.asarray(cosmo.angularDiameterDistance(np.asarray(z, float)), float) / cosmo.h


def match_radius_arcsec(z, cosmology: dict, match_kpc: float) -> np.ndarray:
    """The angle (arcsec) that ``match_kpc`` proper kpc subtends at redshift ``z``."""
    return match_kpc / 1000.0 / angular_diameter_distance_mpc(z, cosmology) * ARCSEC_PER_RAD


def separation_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle separations (arcsec) of every pair, shape (len 1, len 2)."""
    v1, v2 = unit_vectors(ra1, dec1), unit_vectors(ra2, dec2)
    chord = np.linalg.norm(v1[:, None, :] - v2[None, :, :], axis=-1)
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)) * ARCSEC_PER_RAD


def match_field(det: pd.DataFrame, truth: pd.DataFrame, kpc_per_arcsec: np.ndarray, match_kpc: float):
    """Greedy one-to-one matches of one field's detections to its true clusters.

    Parameters
    ----------
    det, truth : DataFrame
        ``ra``, ``dec`` (deg) of the detections and the true clusters of one field.
    kpc_per_arcsec : ndarray
        Proper kpc per arcsec at each true cluster's redshift.
    match_kpc : float

    Returns
    -------
    i, j : ndarray of int
        Matched rows of ``det`` and of ``truth``, in increasing distance.
    distance_kpc : ndarray
    """
    if len(det) == 0 or len(truth) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    sep = separation_arcsec(det["ra"], det["dec"], truth["ra"], truth["dec"])
    dist = sep * np.asarray(kpc_per_arcsec, float)[None, :]
    ii, jj = np.nonzero(dist <= match_kpc)
    order = np.lexsort((jj, ii, dist[ii, jj]))
    used_i, used_j, out = set(), set(), []
    for k in order:
        if ii[k] not in used_i and jj[k] not in used_j:
            used_i.add(ii[k])
            used_j.add(jj[k])
            out.append(k)
    out = np.asarray(out, np.int64)
    return ii[out], jj[out], dist[ii[out], jj[out]] if out.size else np.zeros(0)


def kpc_per_arcsec(z, cosmology: dict) -> np.ndarray:
    """Proper kpc per arcsec at redshift ``z``."""
    return angular_diameter_distance_mpc(z, cosmology) * 1000.0 / ARCSEC_PER_RAD


def counts_at(det: pd.DataFrame, truth: pd.DataFrame, threshold: float, cosmology: dict, match_kpc: float):
    """TP, FP, FN and the matched pairs of the detections with ``prob`` > ``threshold``.

    ``det`` and ``truth`` hold ``field_id``, ``ra``, ``dec`` (and ``prob``, ``z``); matches are
    within a field. Returns (tp, fp, fn, pairs), pairs a DataFrame of the matched detections'
    rows of ``det`` (``det_row``), their distance (``distance_kpc``, ``distance_arcsec``).
    """
    above = det.loc[det["prob"] > threshold]
    scale = kpc_per_arcsec(truth["z"].to_numpy(), cosmology) if len(truth) else np.zeros(0)
    truth = truth.assign(_kpc=scale)
    tp, pairs = 0, []
    for fid, t in truth.groupby("field_id", sort=True):
        d = above.loc[above["field_id"] == fid]
        i, j, dist = match_field(d, t, t["_kpc"].to_numpy(), match_kpc)
        tp += len(i)
        pairs.append(
            pd.DataFrame(
                {
                    "det_row": d.index.to_numpy()[i],
                    "distance_kpc": dist,
                    "distance_arcsec": dist / t["_kpc"].to_numpy()[j],
                }
            )
        )
    pairs = (
        pd.concat(pairs, ignore_index=True)
        if pairs
        else pd.DataFrame(columns=["det_row", "distance_kpc", "distance_arcsec"])
    )
    return tp, len(above) - tp, len(truth) - tp, pairs


def prf1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 (each 0 when its denominator is 0)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2.0 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def threshold_table(
    det: pd.DataFrame, truth: pd.DataFrame, cosmology: dict, match_kpc: float
) -> pd.DataFrame:
    """Deep-CEE's Table 2: per threshold of :data:`THRESHOLDS`, TP, FP, FN, precision, recall, F1."""
    rows = []
    for t in THRESHOLDS:
        tp, fp, fn, _ = counts_at(det, truth, float(t), cosmology, match_kpc)
        rows.append((float(t), tp, fp, fn, *prf1(tp, fp, fn)))
    return pd.DataFrame(rows, columns=["threshold", "tp", "fp", "fn", "precision", "recall", "f1"])


def nearest_offsets(det: pd.DataFrame, truth: pd.DataFrame, cosmology: dict) -> pd.DataFrame:
    """Each detection's distance to the nearest true cluster of its field (kpc at that cluster's z,
    and arcsec); NaN on fields without one (Deep-CEE Fig. 13, top)."""
    out = np.full((len(det), 2), np.nan)
    scale = kpc_per_arcsec(truth["z"].to_numpy(), cosmology) if len(truth) else np.zeros(0)
    truth = truth.assign(_kpc=scale)
    pos = {r: k for k, r in enumerate(det.index)}
    for fid, t in truth.groupby("field_id", sort=True):
        d = det.loc[det["field_id"] == fid]
        if len(d) == 0:
            continue
        dist = separation_arcsec(d["ra"], d["dec"], t["ra"], t["dec"]) * t["_kpc"].to_numpy()[None, :]
        j = np.argmin(dist, axis=1)
        for r, jj, row in zip(d.index, j, dist, strict=True):
            out[pos[r]] = (row[jj], row[jj] / t["_kpc"].to_numpy()[jj])
    return pd.DataFrame({"nearest_kpc": out[:, 0], "nearest_arcsec": out[:, 1]}, index=det.index)
