"""Truth labels of the matched filter's candidates, with the reason of every spurious one.

A candidate is a real cluster when a halo above the configured mass (config ``vetting.labels``;
by default the qualifying halos of ``cutouts.positive``, the truth of the catalogue metrics) lies
within ``match_arcmin``. Otherwise the first reason that applies, in the order of :data:`REASONS`:

- ``low_mass_halo``: a lighter halo, of M_vir >= ``low_m_vir_min``, within ``match_arcmin`` (a real
  but lighter object; the floor keeps out the ~1 halo of 1e13 M_sun that lies within 1' of any
  position);
- ``point_source``: a source brighter than ``source_flux_mjy`` in any band within
  ``source_arcmin`` (a residual of the source subtraction or an unmodelled source);
- ``side_lobe``: a real-cluster candidate of larger SNR within ``sidelobe_arcmin`` (the filtered
  profile of a bright cluster rings, and its ring passes the SNR threshold);
- ``noise``: none of these (a noise or CMB fluctuation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.catalogues.crossmatch import pairs_within
from skyhunt.sky.halos import qualifying_mask

#: Label reasons, the real cluster first, then the spurious ones in order of precedence.
REASONS = ("cluster", "low_mass_halo", "point_source", "side_lobe", "noise")

#: Units of the label columns.
LABEL_UNITS = {
    "label": "(1: real cluster)",
    "reason": "one of " + ", ".join(REASONS),
    "halo_id": "(matched halo, -1: none)",
    "halo_m_vir": "M_sun (matched halo, NaN: none)",
    "source_arcmin": "arcmin (to the nearest bright source, inf: none)",
}


def nearest(ra, dec, ra2, dec2, radius_arcmin: float) -> tuple[np.ndarray, np.ndarray]:
    """Index into the second set of the nearest position within ``radius_arcmin`` of each of the first
    (-1: none), and its separation (arcmin; inf: none)."""
    i, j, sep = pairs_within(ra, dec, ra2, dec2, radius_arcmin)
    out, dist = np.full(np.size(ra), -1), np.full(np.size(ra), np.inf)
    order = np.lexsort((j, -sep))  # the nearest last, so that it wins the assignment (ties: lowest j)
    out[i[order]], dist[i[order]] = j[order], sep[order]
    return out, dist


def label_candidates(
    candidates: pd.DataFrame, halos: pd.DataFrame, sources: pd.DataFrame, labels: dict
) -> pd.DataFrame:
    """Label and reason of every candidate (columns of :data:`LABEL_UNITS`, in candidate order).

    Parameters
    ----------
    candidates : DataFrame
        ``ra``, ``dec`` (deg), ``snr``.
    halos : DataFrame
        ``halo_id``, ``ra``, ``dec`` (deg), ``m_vir`` (M_sun), ``z``.
    sources : DataFrame
        ``ra``, ``dec`` (deg) and ``flux_<band>_mjy`` columns (mJy) of the sources in the maps.
    labels : dict
        Config ``vetting.labels`` with ``m_vir_min`` (M_sun) and ``z_min`` resolved
        (:func:`resolve_labels`): ``low_m_vir_min`` (M_sun), ``match_arcmin``,
        ``source_flux_mjy`` (mJy), ``source_arcmin``, ``sidelobe_arcmin``.
    """
    ra, dec = candidates["ra"].to_numpy(float), candidates["dec"].to_numpy(float)
    snr = candidates["snr"].to_numpy(float)
    heavy = qualifying_mask(halos, labels["m_vir_min"], labels["z_min"])
    light = halos["m_vir"].to_numpy(float) >= labels["low_m_vir_min"]
    near = {}
    for name, sel in (("heavy", heavy), ("light", light)):
        h = halos[sel]
        at, _ = nearest(ra, dec, h["ra"].to_numpy(float), h["dec"].to_numpy(float), labels["match_arcmin"])
        near[name] = np.where(at >= 0, np.flatnonzero(sel)[np.maximum(at, 0)], -1)
    real = near["heavy"] >= 0
    matched = np.where(real, near["heavy"], near["light"])
    flux = sources[[c for c in sources.columns if c.startswith("flux_") and c.endswith("_mjy")]].to_numpy(
        float
    )
    bright = (
        sources[flux.max(axis=1, initial=-np.inf) >= labels["source_flux_mjy"]] if len(sources) else sources
    )
    _, source_dist = nearest(
        ra, dec, bright["ra"].to_numpy(float), bright["dec"].to_numpy(float), labels["source_arcmin"]
    )
    # side lobes: a brighter real-cluster candidate nearby
    i, j, _ = pairs_within(ra, dec, ra[real], dec[real], labels["sidelobe_arcmin"])
    lobe = np.zeros(ra.size, bool)
    lobe[i[snr[np.flatnonzero(real)[j]] > snr[i]]] = True
    reason = np.select(
        [real, matched >= 0, np.isfinite(source_dist), lobe],
        list(REASONS[:4]),
        default=REASONS[4],
    )
    m_vir = halos["m_vir"].to_numpy(float)
    return pd.DataFrame(
        {
            "label": real.astype(np.int8),
            "reason": reason.astype(str),
            "halo_id": np.where(matched >= 0, halos["halo_id"].to_numpy()[np.maximum(matched, 0)], -1),
            "halo_m_vir": np.where(matched >= 0, m_vir[np.maximum(matched, 0)], np.nan),
            "source_arcmin": source_dist,
        }
    )


def resolve_labels(labels: dict, positive: dict) -> dict:
    """Config ``vetting.labels`` with ``m_vir_min`` and ``z_min`` from ``cutouts.positive`` where null."""
    return {**labels, **{k: positive[k] if labels[k] is None else labels[k] for k in ("m_vir_min", "z_min")}}
