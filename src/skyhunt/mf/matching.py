"""Matching matched-filter detections to halos and cutouts (DeepSZ section 2.3), and MF completeness.

(i) Each detection goes to the most massive halo within ``radius_arcmin``
(1' in DeepSZ). (ii) A matched detection is assigned to the cutout holding
the halo's true centre, an unmatched one to the cutout holding the detected
position (:func:`skyhunt.cutouts.labels.holding_cutout`). (iii) Each cutout
gets the largest SNR assigned to it, 0 if none. Every step is a per-group
maximum, so the result does not depend on the order of the detections; a
halo's cutout depends only on the halo, so a matched halo reaches at most one
cutout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, Grid
from skyhunt.cutouts.labels import first_per_group, holding_cutout
from skyhunt.sky.halos import qualifying_mask

#: Columns of the cutout SNR table and their units.
CUTOUT_SNR_UNITS = {
    "cutout_id": "",
    "split": "",
    "snr": "",
    "halo_id": "",
    "n_detections": "",
}


def match_halos(det_ra, det_dec, halos: pd.DataFrame, radius_arcmin: float) -> np.ndarray:
    """The most massive halo within ``radius_arcmin`` of each detection (DeepSZ 2.3 (i)).

    Parameters
    ----------
    det_ra, det_dec : ndarray
        Detection positions, degrees.
    halos : pandas.DataFrame
        halo_id, ra, dec (deg), m_vir (M_sun).
    radius_arcmin : float

    Returns
    -------
    ndarray of int64
        Row position in ``halos`` per detection, -1 if none within the radius
        (ties in mass go to the lowest halo_id).
    """
    import healpy as hp

    det_ra = np.asarray(det_ra, dtype=float)
    out = np.full(det_ra.size, -1, dtype=np.int64)
    if det_ra.size == 0 or len(halos) == 0:
        return out
    tree = cKDTree(hp.ang2vec(halos["ra"].to_numpy(), halos["dec"].to_numpy(), lonlat=True))
    vec = np.atleast_2d(hp.ang2vec(det_ra, np.asarray(det_dec, dtype=float), lonlat=True))
    hits = tree.query_ball_point(vec, 2.0 * np.sin(radius_arcmin * ARCMIN / 2.0))
    det = np.repeat(np.arange(det_ra.size), [len(h) for h in hits])
    if det.size == 0:
        return out
    halo = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])
    mass = halos["m_vir"].to_numpy()[halo]
    hid = halos["halo_id"].to_numpy()[halo]
    best = first_per_group(det, np.lexsort((hid, -mass)).argsort())
    out[det[best]] = halo[best]
    return out


def cutout_snr(
    candidates: pd.DataFrame,
    halos: pd.DataFrame,
    index: pd.DataFrame,
    geometry: CutoutGeometry,
    stride_arcmin: float,
    radius_arcmin: float,
) -> pd.DataFrame:
    """The largest SNR assigned to each cutout (DeepSZ 2.3 (ii)-(iii)).

    Parameters
    ----------
    candidates : pandas.DataFrame
        Detections (ra, dec, snr).
    halos : pandas.DataFrame
        Halo table.
    index : pandas.DataFrame
        Cutout index (cutout_id, ra, dec, grid_row, grid_col, split), in grid order.
    geometry : CutoutGeometry
        Cutout size.
    stride_arcmin : float
        Grid stride.
    radius_arcmin : float
        Matching radius.

    Returns
    -------
    pandas.DataFrame
        One row per cutout in index order: cutout_id, split, snr (0 when no
        detection is assigned), halo_id (halo matched by the detection giving
        that SNR, -1 if unmatched or none; ties in SNR go to the lowest
        halo_id), n_detections (detections assigned to the cutout).
    """
    grid = Grid.from_index(index, stride_arcmin)
    n = len(index)
    snr_out = np.zeros(n)
    halo_out = np.full(n, -1, dtype=np.int64)
    n_det = np.zeros(n, dtype=np.int64)
    if len(candidates):
        row = match_halos(candidates["ra"].to_numpy(), candidates["dec"].to_numpy(), halos, radius_arcmin)
        matched = row >= 0
        ra = np.where(matched, halos["ra"].to_numpy()[row], candidates["ra"].to_numpy())
        dec = np.where(matched, halos["dec"].to_numpy()[row], candidates["dec"].to_numpy())
        hid = np.where(matched, halos["halo_id"].to_numpy()[row], -1)
        cut = holding_cutout(grid, geometry, ra, dec)
        ok = cut >= 0
        snr = candidates["snr"].to_numpy()
        cut, snr, hid = cut[ok], snr[ok], hid[ok]
        n_det = np.bincount(cut, minlength=n)
        # per cutout: highest SNR, then the lowest halo id (order independent)
        best = first_per_group(cut, np.lexsort((hid, -snr)).argsort())
        snr_out[cut[best]] = snr[best]
        halo_out[cut[best]] = hid[best]
    return pd.DataFrame(
        {
            "cutout_id": index["cutout_id"].to_numpy(),
            "split": index["split"].to_numpy(),
            "snr": snr_out,
            "halo_id": halo_out,
            "n_detections": n_det,
        }
    )


def completeness(
    candidates: pd.DataFrame,
    halos: pd.DataFrame,
    m_vir_min: float,
    z_min: float,
    radius_arcmin: float,
    thresholds,
    region=None,
) -> pd.DataFrame:
    """MF completeness for qualifying halos and counts of unmatched detections, per SNR threshold.

    A qualifying halo (M_vir >= ``m_vir_min``, z >= ``z_min``, in the
    footprint and, if ``region`` is given, where ``region(ra, dec)`` is true)
    is found at threshold s when a detection with SNR >= s is matched to it
    (:func:`match_halos`). A detection with no halo within the radius is
    unmatched (false); one matched to a halo below the cuts is counted apart.

    Parameters
    ----------
    candidates : pandas.DataFrame
        ra, dec, snr.
    halos : pandas.DataFrame
        Halo table (halo_id, ra, dec, z, m_vir, in_footprint).
    m_vir_min : float
        M_sun.
    z_min : float
    radius_arcmin : float
    thresholds : sequence of float
    region : callable, optional
        (ra, dec) -> bool mask selecting halos and detections to count (e.g.
        the area the filter searched).

    Returns
    -------
    pandas.DataFrame
        Per threshold: n_qualifying, n_found, completeness, n_detections,
        n_unmatched, n_matched_below_cut, purity (detections matched to a
        qualifying halo over all detections).
    """
    h = halos.reset_index(drop=True)
    qual = h["in_footprint"].to_numpy() & qualifying_mask(h, m_vir_min, z_min)
    c = candidates
    if region is not None:
        qual &= region(h["ra"].to_numpy(), h["dec"].to_numpy())
        c = c[region(c["ra"].to_numpy(), c["dec"].to_numpy())]
    row = match_halos(c["ra"].to_numpy(), c["dec"].to_numpy(), h, radius_arcmin)
    snr = c["snr"].to_numpy()
    rows = []
    for s in thresholds:
        above = snr >= s
        hit = row[above]
        hit_q = hit[hit >= 0][qual[hit[hit >= 0]]]
        n_found = np.unique(hit_q).size
        n_det = int(above.sum())
        rows.append(
            {
                "snr_min": float(s),
                "n_qualifying": int(qual.sum()),
                "n_found": int(n_found),
                "completeness": n_found / max(int(qual.sum()), 1),
                "n_detections": n_det,
                "n_unmatched": int(np.sum(hit < 0)),
                "n_matched_below_cut": int(np.sum(hit >= 0) - hit_q.size),
                "purity": hit_q.size / max(n_det, 1),
            }
        )
    return pd.DataFrame(rows)
