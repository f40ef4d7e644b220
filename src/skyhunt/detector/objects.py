"""The truth objects the detector is trained and scored against, in four physical classes.

In the spirit of CLARAN's morphology classes (Wu et al. 2019), but physical for the millimetre
sky: a qualifying cluster (the cutout positive cut, :func:`skyhunt.sky.halos.qualifying_mask`),
a radio source, a dusty (IR) source, and a qualifying cluster hosting a radio source (DeepSZ
Fig. 2). Flux thresholds and the host radius are config ``detector``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from skyhunt.cutouts.layout import split_of
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import qualifying_mask

#: The detector's classes, in the order of its heat-map channels.
CLASSES = ("cluster", "radio", "dusty", "cluster_radio")

#: Classes whose objects are clusters (the detector's cluster catalogue).
CLUSTER_CLASSES = ("cluster", "cluster_radio")

#: Columns of ``objects.parquet`` and their units.
OBJECT_UNITS = {
    "object_id": "",
    "ra": "deg",
    "dec": "deg",
    "class": "",
    "halo_id": "",
    "flux_mjy": "mJy (in the class's band; NaN for a cluster)",
    "split": "",
}

#: Halo and source columns the classification reads.
HALO_COLUMNS = ("halo_id", "ra", "dec", "z", "m_vir", "in_footprint")
SOURCE_COLUMNS = ("ra", "dec", "population", "host_halo_id")


def unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) of positions in degrees."""
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def chord(arcmin: float) -> float:
    """Chord length on the unit sphere of an angle in arcmin."""
    return 2.0 * np.sin(np.radians(arcmin / 60.0) / 2.0)


def class_bands(detector: dict, bands) -> dict:
    """The bands whose fluxes define the radio and dusty objects: config ``detector.radio_band``
    and ``dusty_band``, null meaning the lowest- and the highest-frequency band of ``bands``
    (``sky.bands`` entries with ``name`` and ``freq_ghz``)."""
    by_freq = sorted(bands, key=lambda b: b["freq_ghz"])
    return {
        "radio_band": detector["radio_band"] or by_freq[0]["name"],
        "dusty_band": detector["dusty_band"] or by_freq[-1]["name"],
    }


def classify_objects(
    halos: pd.DataFrame,
    sources: pd.DataFrame,
    detector: dict,
    positive: dict,
    splits: dict,
    footprint: Footprint,
) -> pd.DataFrame:
    """The truth objects inside the footprint, one row per object (columns of :data:`OBJECT_UNITS`).

    Parameters
    ----------
    halos : pandas.DataFrame
        Halo table (:data:`HALO_COLUMNS`).
    sources : pandas.DataFrame
        Source catalogue (:data:`SOURCE_COLUMNS` and the flux columns of the class bands, mJy).
    detector : dict
        Config ``detector`` (``radio_flux_min_mjy``, ``dusty_flux_min_mjy``,
        ``classes_radius_arcmin``) with ``radio_band`` and ``dusty_band`` resolved to band names
        (:func:`class_bands`).
    positive : dict
        Config ``cutouts.positive`` (the qualifying cut).
    splits : dict
        Config ``cutouts.splits``.
    footprint : Footprint

    Returns
    -------
    pandas.DataFrame
        Clusters first (by halo table order), then radio, then dusty sources (catalogue order).
        A qualifying halo is ``cluster_radio`` when a radio source above the threshold is hosted
        by it or lies within ``classes_radius_arcmin`` of it; such a source is not also a
        ``radio`` object. ``flux_mjy`` of a ``cluster_radio`` is its brightest such source's.
    """
    inside = halos["in_footprint"].to_numpy(bool) & footprint.contains(halos["ra"], halos["dec"])
    q = halos[inside & qualifying_mask(halos, positive["m_vir_min"], positive["z_min"])]
    radio_flux = sources[f"flux_{detector['radio_band']}_mjy"].to_numpy(float)
    dusty_flux = sources[f"flux_{detector['dusty_band']}_mjy"].to_numpy(float)
    population = sources["population"].to_numpy()
    src_inside = footprint.contains(sources["ra"], sources["dec"])
    bright_radio = np.flatnonzero((population == "radio") & (radio_flux >= detector["radio_flux_min_mjy"]))
    # a bright radio source belongs to a qualifying halo that hosts it or lies within the radius
    host = np.full(len(bright_radio), -1, dtype=np.int64)  # row of q
    hosted = pd.Index(q["halo_id"]).get_indexer(sources["host_halo_id"].to_numpy()[bright_radio])
    host[hosted >= 0] = hosted[hosted >= 0]
    if len(q) and len(bright_radio):
        tree = cKDTree(unit_vectors(q["ra"], q["dec"]))
        dist, near = tree.query(
            unit_vectors(sources["ra"].to_numpy()[bright_radio], sources["dec"].to_numpy()[bright_radio])
        )
        close = (host < 0) & (dist <= chord(detector["classes_radius_arcmin"]))
        host[close] = near[close]
    n_q = len(q)
    cluster_flux = np.full(n_q, np.nan)
    for row, h in zip(bright_radio[host >= 0], host[host >= 0], strict=True):
        cluster_flux[h] = np.fmax(cluster_flux[h], radio_flux[row])
    lone_radio = bright_radio[(host < 0) & src_inside[bright_radio]]
    dusty = np.flatnonzero((population == "ir") & (dusty_flux >= detector["dusty_flux_min_mjy"]) & src_inside)
    ra = np.concatenate([q["ra"], sources["ra"].to_numpy()[lone_radio], sources["ra"].to_numpy()[dusty]])
    dec = np.concatenate([q["dec"], sources["dec"].to_numpy()[lone_radio], sources["dec"].to_numpy()[dusty]])
    cls = np.concatenate(
        [
            np.where(np.isnan(cluster_flux), "cluster", "cluster_radio"),
            np.full(len(lone_radio), "radio"),
            np.full(len(dusty), "dusty"),
        ]
    ).astype(object)
    return pd.DataFrame(
        {
            "object_id": np.arange(len(ra), dtype=np.int64),
            "ra": ra.astype(float),
            "dec": dec.astype(float),
            "class": cls,
            "halo_id": np.concatenate(
                [q["halo_id"].to_numpy(np.int64), np.full(len(lone_radio) + len(dusty), -1, dtype=np.int64)]
            ),
            "flux_mjy": np.concatenate([cluster_flux, radio_flux[lone_radio], dusty_flux[dusty]]),
            "split": split_of(ra, footprint, splits).astype(object),
        }
    )
