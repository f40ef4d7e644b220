"""Small synthetic tables in the layout of the issue-15 interface (detector files, halos, MF candidates).

A 2 x 1 deg sky with its RA stripes (test < 0.13, validation < 0.2 of the RA range, train above):
qualifying halos, lighter halos and radio/dusty sources at known positions; MF candidates and
detector peaks placed on some of them (within 0.3'), plus false entries far from every object.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cutouts.layout import split_of
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import HALO_UNITS, qualifying_mask

FOOTPRINT = {"ra_min": 0.0, "ra_max": 10.0, "dec_min": 0.0, "dec_max": 1.0}
SPLITS = {"test_max": 0.3, "validation_max": 0.6, "guard_arcmin": 0.0}
POSITIVE = {"m_vir_min": 2.0e14, "z_min": 0.25}
CATALOGUES_CFG = {
    "match_radius_arcmin": 1.0,
    "purity_levels": [0.9, 0.8],
    "purity_m500c_min": 1.0e14,
    "bootstrap_samples": 50,
    "interval": 0.68,
    "edge_bin_arcmin": 0.5,
}
CLASSES = ("cluster", "radio", "dusty", "cluster_radio")


def split(ra):
    return split_of(np.asarray(ra), Footprint.from_config(FOOTPRINT), SPLITS)


def synthetic_sky(seed: int = 3, n_halos: int = 240, n_false: int = 60):
    """(halos, objects, detections, candidates) DataFrames of the interface layout."""
    rng = np.random.default_rng(seed)
    # halos on a jittered lattice, >= 3' apart, so matches are unambiguous
    ra = np.linspace(0.1, 9.9, n_halos) + rng.uniform(-0.005, 0.005, n_halos)
    dec = rng.uniform(0.1, 0.9, n_halos)
    qual = rng.uniform(size=n_halos) < 0.6
    m_vir = np.where(qual, rng.uniform(2.1e14, 8e14, n_halos), rng.uniform(5e13, 1.9e14, n_halos))
    halos = pd.DataFrame(
        {
            "halo_id": np.arange(n_halos, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "z": np.where(qual, rng.uniform(0.3, 1.5, n_halos), rng.uniform(0.1, 1.5, n_halos)),
            "m_vir": m_vir,
            "m500c": 0.65 * m_vir,
            "in_footprint": np.ones(n_halos, bool),
        }
    )
    radio_host = qual & (rng.uniform(size=n_halos) < 0.2)
    cls = np.where(radio_host, "cluster_radio", "cluster")
    n_src = 40
    src_ra, src_dec = rng.uniform(0.05, 9.95, n_src), rng.uniform(0.05, 0.95, n_src)
    src_cls = np.where(np.arange(n_src) % 2 == 0, "radio", "dusty")
    objects = pd.DataFrame(
        {
            "object_id": np.arange(qual.sum() + n_src, dtype=np.int64),
            "ra": np.concatenate([ra[qual], src_ra]),
            "dec": np.concatenate([dec[qual], src_dec]),
            "class": np.concatenate([cls[qual], src_cls]),
            "halo_id": np.concatenate([halos["halo_id"].to_numpy()[qual], np.full(n_src, -1)]),
            "flux_mjy": np.concatenate([np.full(qual.sum(), np.nan), rng.uniform(5, 50, n_src)]),
        }
    )
    objects["split"] = split(objects["ra"])

    def jitter(n):
        return rng.normal(0, 0.15 / 60, n)

    # detector: finds 80 % of the objects, score higher when true; plus false entries off every object
    seen = rng.uniform(size=len(objects)) < 0.8
    o = objects[seen]
    false_ra, false_dec = _far_positions(
        rng, n_false, np.concatenate([ra, src_ra]), np.concatenate([dec, src_dec])
    )
    false_cls = np.array(CLASSES)[rng.integers(0, 4, n_false)]
    det_ra = np.concatenate([o["ra"] + jitter(len(o)), false_ra])
    det_dec = np.concatenate([o["dec"] + jitter(len(o)), false_dec])
    det_cls = np.concatenate([o["class"].to_numpy(), false_cls])
    prob = np.concatenate([rng.uniform(0.4, 1.0, len(o)), rng.uniform(0.2, 0.7, n_false)])
    p = {f"p_{c}": np.where(det_cls == c, prob, prob * rng.uniform(0, 0.5, prob.size)) for c in CLASSES}
    detections = pd.DataFrame(
        {
            "ra": det_ra,
            "dec": det_dec,
            "class": det_cls,
            "prob": prob,
            **p,
            "pos_err_arcmin": np.full(prob.size, 0.2),
            "split": split(det_ra),
            "tile": np.zeros(prob.size, np.int64),
        }
    )
    order = np.lexsort((detections["dec"], detections["ra"], -detections["prob"]))
    detections = detections.iloc[order].reset_index(drop=True)
    # MF: finds 70 % of the qualifying halos and some lighter ones, SNR higher for heavier halos
    mf_seen = rng.uniform(size=n_halos) < np.where(qual, 0.7, 0.2)
    h = halos[mf_seen]
    mf_false_ra, mf_false_dec = _far_positions(rng, n_false, ra, dec)
    c_ra = np.concatenate([h["ra"] + jitter(len(h)), mf_false_ra])
    c_dec = np.concatenate([h["dec"] + jitter(len(h)), mf_false_dec])
    snr = np.concatenate(
        [4.5 + h["m_vir"].to_numpy() / 1e14 + rng.normal(0, 1, len(h)), rng.uniform(4.5, 6, n_false)]
    )
    candidates = pd.DataFrame(
        {
            "ra": c_ra,
            "dec": c_dec,
            "snr": np.maximum(snr, 4.5),
            "scale_arcmin": np.full(snr.size, 1.0),
            "scale_index": np.full(snr.size, 3, np.int64),
            "y0": np.full(snr.size, 1e-5),
            "tile": np.zeros(snr.size, np.int64),
            "stage": np.full(snr.size, "dust"),
        }
    )
    return halos, objects, detections, candidates


def _far_positions(rng, n, ra, dec, min_arcmin=3.0):
    """``n`` positions in the footprint at least ``min_arcmin`` from every (ra, dec)."""
    out_ra, out_dec = [], []
    while len(out_ra) < n:
        r, d = rng.uniform(0.05, 9.95), rng.uniform(0.05, 0.95)
        if np.min(np.hypot((ra - r) * np.cos(np.radians(d)), dec - d)) * 60 > min_arcmin:
            out_ra.append(r)
            out_dec.append(d)
    return np.array(out_ra), np.array(out_dec)


def write(path, table: pd.DataFrame, units=None) -> None:
    """Write ``table`` with :func:`skyhunt.io.write_table`."""
    io.write_table(path, {c: table[c].to_numpy() for c in table}, units or {c: "" for c in table})


def write_sky(tmp_path, **kwargs) -> dict:
    """Write the synthetic sky's tables; return their paths by input name."""
    halos, objects, detections, candidates = synthetic_sky(**kwargs)
    names = ("halos", "objects", "detections", "candidates", "masses", "cnn_masses")
    paths = {k: tmp_path / f"{k}.parquet" for k in names}
    write(paths["halos"], halos, HALO_UNITS)
    write(paths["objects"], objects)
    write(paths["detections"], detections)
    write(paths["candidates"], candidates)
    write(paths["masses"], candidate_masses(candidates), MASS_UNITS)
    write(paths["cnn_masses"], cnn_masses(halos))
    return paths


def cnn_masses(halos: pd.DataFrame) -> pd.DataFrame:
    """A mass table of rule cnn_masses' form: every other qualifying halo, M500c 1.1 times its
    true one, sigma_ln_m500c 0.2."""
    q = halos[qualifying_mask(halos, POSITIVE["m_vir_min"], POSITIVE["z_min"])].iloc[::2]
    return pd.DataFrame(
        {
            "halo_id": q["halo_id"].to_numpy(),
            "m500c": 1.1 * q["m500c"].to_numpy(float),
            "sigma_ln_m500c": np.full(len(q), 0.2),
        }
    )


#: Units of the synthetic mass table (as rule mf_masses writes them).
MASS_UNITS = {"ra": "deg", "dec": "deg", "z": "", "m500c": "M_sun", "m500c_lo": "M_sun", "m500c_hi": "M_sun"}


def candidate_masses(candidates: pd.DataFrame) -> pd.DataFrame:
    """A mass table of rule mf_masses' form for the candidates, in their order: distinct masses
    rising with SNR, every third candidate without a match (NaN)."""
    n = len(candidates)
    m = 1e14 * candidates["snr"].to_numpy(float) / 5.0 * (1.0 + 1e-3 * np.arange(n))
    m[::3] = np.nan
    return pd.DataFrame(
        {
            "ra": candidates["ra"].to_numpy(),
            "dec": candidates["dec"].to_numpy(),
            "z": np.where(np.isnan(m), np.nan, 0.2 + 0.01 * np.arange(n)),
            "m500c": m,
            "m500c_lo": 0.8 * m,
            "m500c_hi": 1.25 * m,
        }
    )


#: Cutout keys of the synthetic sky's grid (the shipped cutout geometry).
CUTOUTS = {
    "size_arcmin": 8.0,
    "npix": 32,
    "stride_arcmin": 6.0,
    "central_arcmin": 6.0,
    "edge_margin_arcmin": 1.0,
    "interpolation": "bilinear",
    "positive": POSITIVE,
    "splits": SPLITS,
}


def write_index(
    path, nside: int = 2048, footprint: dict = FOOTPRINT, cutouts: dict = CUTOUTS
) -> pd.DataFrame:
    """The standard cutout grid of a footprint (default: the synthetic one) as a cutout index
    (grid columns, split)."""
    from skyhunt.cutouts.layout import cutout_layout

    layout = cutout_layout(footprint, nside, cutouts)
    grid = layout.grid
    index = pd.DataFrame(
        {
            "cutout_id": np.arange(len(grid), dtype=np.int64),
            "ra": grid.ra,
            "dec": grid.dec,
            "grid_row": grid.row,
            "grid_col": grid.col,
            "split": layout.split,
        }
    )
    write(path, index)
    return index
