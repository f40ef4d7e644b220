"""Matching entries to truth objects, and the position uncertainty calibrated on validation.

An entry matches the nearest truth object of its class group (clusters with or without a
radio source are one group; radio and dusty sources are their own) within the match radius.
The 1-sigma position uncertainty of a class is the per-axis rms offset of its matched
validation-stripe entries, sqrt(<d^2> / 2) for a circular Gaussian error: measured on data
the network was not trained on, and never on the test stripe.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from skyhunt.detector.objects import CLASSES, chord, unit_vectors

log = logging.getLogger("skyhunt.detector")

#: The class group of each class: entries match objects of the same group.
CLASS_GROUP = {"cluster": "cluster", "cluster_radio": "cluster", "radio": "radio", "dusty": "dusty"}

#: Fewest matched validation entries of a class for its own uncertainty (else the pooled one).
MIN_MATCHED = 5


def match_to_objects(entries: pd.DataFrame, objects: pd.DataFrame, radius_arcmin: float) -> tuple:
    """Nearest object of the entry's class group within ``radius_arcmin``.

    Returns
    -------
    row : ndarray of int
        Row of ``objects`` per entry, -1 without a match.
    distance_arcmin : ndarray
        Distance to it (NaN without a match).
    """
    row = np.full(len(entries), -1, dtype=np.int64)
    dist = np.full(len(entries), np.nan)
    e_group = entries["class"].map(CLASS_GROUP).to_numpy()
    o_group = objects["class"].map(CLASS_GROUP).to_numpy()
    for group in set(CLASS_GROUP.values()):
        e, o = np.flatnonzero(e_group == group), np.flatnonzero(o_group == group)
        if not len(e) or not len(o):
            continue
        tree = cKDTree(unit_vectors(objects["ra"].to_numpy()[o], objects["dec"].to_numpy()[o]))
        d, k = tree.query(unit_vectors(entries["ra"].to_numpy()[e], entries["dec"].to_numpy()[e]))
        ok = d <= chord(radius_arcmin)
        row[e[ok]] = o[k[ok]]
        dist[e[ok]] = np.degrees(2.0 * np.arcsin(d[ok] / 2.0)) * 60.0
    return row, dist


def position_errors(entries: pd.DataFrame, objects: pd.DataFrame, radius_arcmin: float) -> dict:
    """Per-class 1-sigma position uncertainty (arcmin) from the validation entries' offsets.

    Classes with fewer than :data:`MIN_MATCHED` matched validation entries take the value pooled
    over all classes; with none matched at all the uncertainty is NaN (and a warning is logged).

    Returns
    -------
    dict
        ``class -> {"pos_err_arcmin": float, "matched": int}``.
    """
    val = entries[entries["split"] == "validation"]
    _, dist = match_to_objects(val, objects, radius_arcmin)
    cls = val["class"].to_numpy()
    ok = np.isfinite(dist)
    pooled = float(np.sqrt(np.mean(dist[ok] ** 2) / 2.0)) if ok.any() else float("nan")
    if not ok.any():
        log.warning("no validation entry matches a truth object: position uncertainties are NaN")
    out = {}
    for c in CLASSES:
        d = dist[ok & (cls == c)]
        value = float(np.sqrt(np.mean(d**2) / 2.0)) if len(d) >= MIN_MATCHED else pooled
        out[c] = {"pos_err_arcmin": value, "matched": len(d)}
    return out
