"""The Deep-CEE rules without torch: ``deepcee_fields`` (per split) and ``deepcee_metrics``.

The torch rules (``train_deepcee``, ``deepcee_detect``) are in :mod:`skyhunt.deepcee.cnn_pipeline`.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.deepcee.fields import centre_rng, field_centres, field_rng, qualifying, truth_on_field
from skyhunt.deepcee.metrics import THRESHOLDS, counts_at, nearest_offsets, threshold_table
from skyhunt.deepcee.readers import FIELD_UNITS, TRUTH_UNITS, read_detections, write_images
from skyhunt.optical.render import BANDS, RENDER_COLUMNS, render_cutout
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.deepcee")

#: Halo columns the fields read.
HALO_COLUMNS = ("halo_id", "ra", "dec", "z", "m500c")

#: Columns of the offsets table.
OFFSET_UNITS = {
    "field_id": "",
    "prob": "",
    "matched": "",
    "distance_kpc": "kpc (proper, at the true z; NaN: unmatched)",
    "distance_arcsec": "arcsec",
    "nearest_kpc": "kpc (NaN: no true cluster on the field)",
    "nearest_arcsec": "arcsec",
}


def render_config(optical: dict, fields: dict) -> dict:
    """The optical renderer's config for the fields: ``optical`` with the fields' preset, pixel, size, PSF."""
    keys = ("preset", "pixel_scale_arcsec", "npix", "psf")
    return {**optical, **{k: fields[k] for k in keys}}


def run_deepcee_fields(
    *,
    split: str,
    fields: dict,
    clusters: dict,
    optical: dict,
    footprint: dict,
    splits: dict,
    seed: int,
    halos,
    galaxies,
    images,
    index,
    truth,
) -> None:
    """Render one split's cluster and random fields in g, r, i with the optical code.

    Parameters
    ----------
    split : str
        ``train``, ``validation`` or ``test``.
    fields, clusters : dict
        Config ``deepcee.fields`` and ``deepcee.clusters``.
    optical : dict
        Config ``optical`` without ``galaxies`` (its PSF details and seeing; the fields' own
        preset, pixel scale, size and PSF profile override it).
    footprint, splits : dict
        Config ``sky.footprint``, ``cutouts.splits``.
    seed : int
        Centres from the stream ``deepcee_centres_<split>``, field i's noise from
        ``deepcee_field/<split>/<i>``.
    halos, galaxies : path-like
        ``halos.parquet``, ``galaxies.parquet``.
    images, index, truth : path-like
        Outputs (:mod:`skyhunt.deepcee.readers`).
    """
    halo = qualifying(read_halos(halos, HALO_COLUMNS), clusters)
    box = Footprint.from_config(footprint)
    centres = field_centres(halo, split, fields, box, splits, centre_rng(seed, split))
    if len(centres) == 0:
        raise ValueError(f"deepcee: no {split} field fits its stripe (config deepcee.fields)")
    gal = io.read_checked_table(galaxies, RENDER_COLUMNS)
    cfg = render_config(optical, fields)
    npix, scale = int(fields["npix"]), float(fields["pixel_scale_arcsec"])
    stack, rows, sky = np.zeros((len(centres), 3, npix, npix), np.float32), [], None
    for i, c in enumerate(centres.itertuples(index=False)):
        img, info = render_cutout(gal, c.ra, c.dec, cfg, field_rng(seed, split, i))
        stack[i] = np.stack([img[b] for b in BANDS])
        sky = [info["sky_sigma"][b] for b in BANDS]
        rows.append(truth_on_field(halo, c.ra, c.dec, npix, scale).assign(field_id=i))
    table = centres.assign(field_id=np.arange(len(centres), dtype=np.int64), split=split)
    on = pd.concat(rows, ignore_index=True)
    meta = {"pixel_scale_arcsec": scale, "npix": npix, "bands": list(BANDS), "sky_sigma": sky}
    write_images(images, stack)
    io.write_table(index, {k: table[k].to_numpy() for k in FIELD_UNITS}, FIELD_UNITS, meta=meta)
    io.write_table(truth, {k: on[k].to_numpy() for k in TRUTH_UNITS}, TRUTH_UNITS)
    log.info(
        '%s: %d cluster and %d random fields of %d^2 x %.2f", %d true clusters on them',
        split,
        int((table["kind"] == "cluster").sum()),
        int((table["kind"] == "random").sum()),
        npix,
        scale,
        len(on),
    )


def markdown_table(table: pd.DataFrame, n_truth: int, match_kpc: float) -> str:
    """Deep-CEE's Table 2 layout as Markdown."""
    lines = [
        f"Deep-CEE on the test fields: {n_truth} true clusters, match within {match_kpc:g} kpc (proper).",
        "",
        "| confidence threshold (%) | TP | FP | FN | precision | recall | F1 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {100 * r.threshold:.0f} | {r.tp} | {r.fp} | {r.fn} | {r.precision:.4f} | {r.recall:.4f} "
            f"| {r.f1:.4f} |"
        )
    return "\n".join(lines) + "\n"


def run_deepcee_metrics(
    *, cosmology: dict, match_kpc: float, detections, truth, table_csv, table_md, offsets, summary
) -> None:
    """Precision, recall and F1 at Deep-CEE's 11 thresholds and the offsets of the detections.

    Parameters
    ----------
    cosmology : dict
        Config ``sky.cosmology`` (D_A of the match distance).
    match_kpc : float
        Config ``deepcee.match_kpc``.
    detections, truth : path-like
        ``deepcee/detections.parquet`` and the test fields' truth.
    table_csv, table_md : path-like
        Outputs: the threshold table (:func:`skyhunt.deepcee.metrics.threshold_table`).
    offsets : path-like
        Output: every detection above the best-F1 threshold with its match and nearest truth.
    summary : path-like
        Output JSON: the best threshold, its P, R, F1 and the offsets' median.
    """
    det = read_detections(detections)
    on = io.read_checked_table(truth, ("field_id", "ra", "dec", "z"))
    table = threshold_table(det, on, cosmology, match_kpc)
    best = table.loc[table["f1"].idxmax()]
    _, _, _, pairs = counts_at(det, on, float(best["threshold"]), cosmology, match_kpc)
    above = det.loc[det["prob"] > best["threshold"]]
    near = nearest_offsets(above, on, cosmology)
    dist = pairs.set_index("det_row")
    off = pd.DataFrame(
        {
            "field_id": above["field_id"].to_numpy(),
            "prob": above["prob"].to_numpy(),
            "matched": above.index.isin(dist.index),
            "distance_kpc": dist["distance_kpc"].reindex(above.index).to_numpy(float),
            "distance_arcsec": dist["distance_arcsec"].reindex(above.index).to_numpy(float),
            "nearest_kpc": near["nearest_kpc"].to_numpy(),
            "nearest_arcsec": near["nearest_arcsec"].to_numpy(),
        }
    )
    with io.atomic_output(table_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with io.atomic_output(table_md) as tmp:
        tmp.write_text(markdown_table(table, len(on), match_kpc))
    io.write_table(offsets, {k: off[k].to_numpy() for k in OFFSET_UNITS}, OFFSET_UNITS)
    matched = off.loc[off["matched"]]
    record = {
        "thresholds": THRESHOLDS.tolist(),
        "true_clusters": len(on),
        "best_threshold": float(best["threshold"]),
        "precision": float(best["precision"]),
        "recall": float(best["recall"]),
        "f1": float(best["f1"]),
        "matched": len(matched),
        "median_offset_kpc": float(np.median(matched["distance_kpc"])) if len(matched) else None,
        "median_offset_arcsec": float(np.median(matched["distance_arcsec"])) if len(matched) else None,
    }
    with io.atomic_output(summary) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    log.info(
        "best F1 %.3f at threshold %.1f (P %.3f, R %.3f)",
        record["f1"],
        record["best_threshold"],
        record["precision"],
        record["recall"],
    )
