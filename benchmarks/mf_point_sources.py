"""Point sources in the matched filter: noise model before/after, map noise, and detection.

On an existing sky (default ``/work/main/results/sky``, read only), runs the MF step
:func:`skyhunt.mf.pipeline.run_matched_filter` on one noise stage (default ``dust``, all
components) in these variants, sequentially, writing under ``--out``:

* ``before``: ``treatment: subtract`` with the old point-source term, the whole population's
  ``ps_d3000_uk2`` (``mf.noise_model.point_sources: config``);
* ``after``: ``treatment: subtract`` with the shot noise of the sources left in the maps
  (``point_sources: catalogue``, the default);
* ``maps``: ``treatment: subtract`` with ``mf.noise: maps``;
* ``detect``: ``treatment: detect`` (``mf.noise: maps``; the catalogue is not passed).

Then prints

* for each variant pair, the SNR ratio of the same halos (each halo's best detection within
  ``mf.matching.radius_arcmin``): median and the 16-84 % half-width;
* completeness of qualifying halos (``cutouts.positive``) at the SNR threshold that leaves
  ``--false-per-10deg2`` unmatched detections per 10 deg^2 (set per variant) and at SNR 4.5 and 5;
* for ``detect``: per band, the catalogue's sources above 2 mJy (in the searched area) found
  within 0.5', the detections with no catalogue source within 0.5', and flux ratios.

Usage::

    nice -n 10 .venv/bin/python benchmarks/mf_point_sources.py [--sky /work/main/results/sky]
        [--config config.yaml] [--stage dust] [--out /tmp/mf_point_sources]
        [--variants before after maps detect] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import time
from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd
import yaml
from scipy.spatial import cKDTree

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.mf.matching import completeness, match_halos
from skyhunt.mf.pipeline import run_matched_filter
from skyhunt.mf.search import search_margin_arcmin
from skyhunt.mf.tiles import inside_mask
from skyhunt.sky.components import stage_components
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.sources import POPULATIONS, flux_column

VARIANTS = {
    "before": {"noise": "model", "treatment": "subtract", "ps_model": "config"},
    "after": {"noise": "model", "treatment": "subtract", "ps_model": "catalogue"},
    "maps": {"noise": "maps", "treatment": "subtract", "ps_model": "catalogue"},
    "detect": {"noise": "maps", "treatment": "detect", "ps_model": "catalogue"},
}


def run_variant(name: str, cfg: dict, args) -> Path:
    v = VARIANTS[name]
    mf = copy.deepcopy({k: val for k, val in cfg["mf"].items() if k != "matching"})
    mf["noise"] = v["noise"]
    mf["point_sources"]["treatment"] = v["treatment"]
    mf["noise_model"]["point_sources"] = v["ps_model"]
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    sky = Path(args.sky)
    t0 = time.perf_counter()
    run_matched_filter(
        nside=cfg["sky"]["nside"],
        footprint=cfg["sky"]["footprint"],
        bands=cfg["sky"]["bands"],
        point_sources=cfg["sky"]["point_sources"],
        mf=mf,
        components=stage_components(cfg["sky"]["stages"], args.stage),
        stage=args.stage,
        maps=[sky / "observed" / f"{args.stage}_{b['name']}.fits" for b in cfg["sky"]["bands"]],
        spectrum=sky / "cmb_spectrum.ecsv",
        candidates=out / "candidates.parquet",
        removed_sources=out / "point_sources.parquet",
        sources=None if v["treatment"] == "detect" else sky / "sources.parquet",
        threads=args.threads,
    )
    print(f"{name}: MF step {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def best_snr_per_halo(cand: pd.DataFrame, halos: pd.DataFrame, radius: float) -> pd.Series:
    row = match_halos(cand["ra"].to_numpy(), cand["dec"].to_numpy(), halos, radius)
    ok = row >= 0
    return (
        pd.Series(cand["snr"].to_numpy()[ok], index=halos["halo_id"].to_numpy()[row[ok]])
        .groupby(level=0)
        .max()
    )


def threshold_at_false_rate(cand, halos, cfg, region, n_false: float) -> float:
    pos = cfg["cutouts"]["positive"]
    grid = np.arange(3.0, 12.0, 0.05)
    tab = completeness(
        cand, halos, pos["m_vir_min"], pos["z_min"], cfg["mf"]["matching"]["radius_arcmin"], grid, region
    )
    ok = tab["n_unmatched"].to_numpy() <= n_false
    return float(grid[np.argmax(ok)]) if ok.any() else float("nan")


def detect_report(found: pd.DataFrame, sources: pd.DataFrame, bands, region, present) -> None:
    src = sources[sources["population"].isin(present)]
    src = src[region(src["ra"].to_numpy(), src["dec"].to_numpy())]
    vec_src = hp.ang2vec(src["ra"].to_numpy(), src["dec"].to_numpy(), lonlat=True)
    tree = cKDTree(vec_src)
    chord = 2.0 * np.sin(np.radians(0.5 / 60.0) / 2.0)
    print(
        f"{'band':>5} {'cat >2mJy':>10} {'found':>6} {'frac':>6} {'detections':>11} {'false':>6} "
        f"{'<2mJy true':>10} {'flux ratio med':>15} {'16-84%':>14}"
    )
    for band in bands:
        f = found[found["band"] == band["name"]]
        flux = src[flux_column(band)].to_numpy()
        bright = flux > 2.0
        if len(f):
            d, j = tree.query(hp.ang2vec(f["ra"].to_numpy(), f["dec"].to_numpy(), lonlat=True), k=1)
        else:
            d, j = np.array([]), np.array([], dtype=int)
        near = d <= chord
        found_src = np.zeros(len(src), dtype=bool)
        found_src[j[near]] = True
        ratio = f["flux_mjy"].to_numpy()[near] / flux[j[near]]
        ratio_b = ratio[bright[j[near]]]
        q = np.percentile(ratio_b, [16, 50, 84]) if ratio_b.size else [np.nan] * 3
        print(
            f"{band['name']:>5} {bright.sum():10d} {np.sum(found_src & bright):6d} "
            f"{np.sum(found_src & bright) / max(bright.sum(), 1):6.3f} {len(f):11d} {np.sum(~near):6d} "
            f"{np.sum(found_src & ~bright):10d} {q[1]:15.3f} {q[0]:6.3f}-{q[2]:6.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sky", default="/work/main/results/sky")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--stage", default="dust")
    parser.add_argument("--out", default="/tmp/mf_point_sources")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--false-per-10deg2", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="read existing outputs instead of running")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="  %(name)s: %(message)s")
    cfg = validate_config(yaml.safe_load(Path(args.config).read_text()))
    fp = Footprint.from_config(cfg["sky"]["footprint"])
    margin = search_margin_arcmin(cfg["sky"]["nside"], cfg["mf"])
    inner = Footprint(
        fp.ra_min + margin / 60.0 / np.cos(np.radians(max(abs(fp.dec_min), abs(fp.dec_max)))),
        fp.ra_max - margin / 60.0 / np.cos(np.radians(max(abs(fp.dec_min), abs(fp.dec_max)))),
        fp.dec_min + margin / 60.0,
        fp.dec_max - margin / 60.0,
    )

    def region(ra, dec):
        return inside_mask(fp, ra, dec, margin)

    n_false = args.false_per_10deg2 * inner.area_deg2 / 10.0
    halos = io.read_table(Path(args.sky) / "halos.parquet")[0]
    cands = {}
    for name in args.variants:
        out = Path(args.out) / name
        if not args.reuse:
            run_variant(name, cfg, args)
        cands[name] = io.read_table(out / "candidates.parquet")[0]
    radius = cfg["mf"]["matching"]["radius_arcmin"]
    pos = cfg["cutouts"]["positive"]
    qual = halos["in_footprint"].to_numpy() & (halos["m_vir"].to_numpy() >= pos["m_vir_min"])
    qual &= halos["z"].to_numpy() >= pos["z_min"]
    qual_ids = set(
        halos["halo_id"].to_numpy()[qual & region(halos["ra"].to_numpy(), halos["dec"].to_numpy())]
    )
    best = {n: best_snr_per_halo(c, halos, radius) for n, c in cands.items()}
    print(f"\nsearched area {inner.area_deg2:.1f} deg^2; {len(qual_ids)} qualifying halos in it")
    print(f"{'pair':>18} {'halos':>6} {'median':>7} {'16-84 half':>10} {'qual. med':>9}")
    names = list(cands)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = best[a].index.intersection(best[b].index)
            r = (best[b][common] / best[a][common]).to_numpy()
            rq = (best[b][common] / best[a][common])[[h in qual_ids for h in common]].to_numpy()
            if r.size:
                q = np.percentile(r, [16, 50, 84])
                pair = f"{b}/{a}"
                print(f"{pair:>18} {r.size:6d} {q[1]:7.3f} {(q[2] - q[0]) / 2:10.3f} {np.median(rq):9.3f}")
    print(
        f"\ncompleteness at the SNR threshold leaving {args.false_per_10deg2:g} unmatched detection(s) per "
        f"10 deg^2 (per variant), and at SNR 5; halos with z >= {pos['z_min']} above each M_vir (M_sun)"
    )
    masses = (pos["m_vir_min"], 1e14, 5e13)
    head = " ".join(f"{f'>={m:.0e}':>9}" for m in masses)
    print(f"{'variant':>8} {'thr':>5} {'false':>5} {head} | {'false@5':>7} {head}")
    for name, c in cands.items():
        s = threshold_at_false_rate(c, halos, cfg, region, n_false)
        cells = []
        for thr in (s, 5.0):
            tabs = [completeness(c, halos, m, pos["z_min"], radius, [thr], region) for m in masses]
            cells.append(
                (int(tabs[0]["n_unmatched"][0]), " ".join(f"{t['completeness'][0]:9.3f}" for t in tabs))
            )
        print(f"{name:>8} {s:5.2f} {cells[0][0]:5d} {cells[0][1]} | {cells[1][0]:7d} {cells[1][1]}")
    if "detect" in cands:
        found = io.read_table(Path(args.out) / "detect" / "point_sources.parquet")[0]
        sources = io.read_table(Path(args.sky) / "sources.parquet")[0]
        present = [p for p in POPULATIONS if p in stage_components(cfg["sky"]["stages"], args.stage)]
        print("\ndetect: sources found (within 0.5') among the catalogue's, in the searched area")
        detect_report(found, sources, cfg["sky"]["bands"], region, present)


if __name__ == "__main__":
    main()
