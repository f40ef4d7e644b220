"""Per-candidate features of the classical vetter, from the matched filter's own outputs only.

For every candidate: its SNR, the SNR of every template scale at its pixel (the shape of the
filter response: a point-source residual peaks at the smallest scale, a cluster across several),
the best scale, the central Compton-y y0 and the fixed-scale y0 and SNR (issue 16), the local
noise σ_y = y0 / SNR of the best scale, the distance to the nearest source the MF removed before
the search (its ``point_sources.parquet``: what a survey knows of its bright sources) and the
distance and SNR ratio of the nearest brighter candidate (a side lobe sits beside a brighter
peak). No truth enters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.catalogues.crossmatch import pairs_within
from skyhunt.vetting.labels import nearest

#: Distances beyond this are recorded as this (arcmin): far beyond the filter's and the cutout's reach.
DISTANCE_CAP_ARCMIN = 10.0

#: Candidate columns the features take as they are (with the per-scale SNR, ``snr_s<k>``).
MF_COLUMNS = ("snr", "scale_index", "y0", "y0_fixed", "snr_fixed")


def scale_columns(columns) -> list[str]:
    """The per-scale SNR columns ``snr_s<k>`` of a candidate table, in scale order."""
    return sorted(c for c in columns if c.startswith("snr_s") and c[5:].isdigit())


def candidate_features(candidates: pd.DataFrame, removed: pd.DataFrame) -> pd.DataFrame:
    """The feature table (one row per candidate, in candidate order; all float64).

    Parameters
    ----------
    candidates : DataFrame
        The MF candidates: ``ra``, ``dec`` (deg), the columns of :data:`MF_COLUMNS` and ``snr_s<k>``.
    removed : DataFrame
        The MF's removed point sources (``ra``, ``dec``, deg; one row per source and band).

    Raises
    ------
    ValueError
        If the candidates have no per-scale SNR columns.
    """
    scales = scale_columns(candidates.columns)
    if not scales:
        raise ValueError("the candidates have no per-scale SNR columns snr_s<k>; rerun matched_filter")
    ra, dec = candidates["ra"].to_numpy(float), candidates["dec"].to_numpy(float)
    snr = candidates["snr"].to_numpy(float)
    out = {c: candidates[c].to_numpy(float) for c in (*MF_COLUMNS, *scales)}
    out["sigma_y"] = out["y0"] / snr
    _, dist = nearest(
        ra, dec, removed["ra"].to_numpy(float), removed["dec"].to_numpy(float), DISTANCE_CAP_ARCMIN
    )
    out["source_arcmin"] = np.minimum(dist, DISTANCE_CAP_ARCMIN)
    i, j, sep = pairs_within(ra, dec, ra, dec, DISTANCE_CAP_ARCMIN)
    brighter = snr[j] > snr[i]
    i, j, sep = i[brighter], j[brighter], sep[brighter]
    lobe, ratio = np.full(ra.size, DISTANCE_CAP_ARCMIN), np.zeros(ra.size)
    order = np.lexsort((j, -sep))  # the nearest brighter candidate last, so that it is kept
    lobe[i[order]], ratio[i[order]] = sep[order], snr[i[order]] / snr[j[order]]
    out["brighter_arcmin"], out["brighter_snr_ratio"] = lobe, ratio
    return pd.DataFrame(out)
