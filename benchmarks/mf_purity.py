"""Matched-filter catalogue statistics of finished runs: detections per deg^2 and their purity.

For each results directory (a finished run: ``<dir>/mf/<stage>/candidates.parquet`` and
``<dir>/sky/halos.parquet``), counts the candidates of one noise stage above SNR thresholds per
deg^2 of the searched area (the footprint shrunk by the MF's search margin, where detections
are kept) and their purity: the fraction with a halo of M500c >= ``--m500c-min`` within
``--radius`` arcmin. The anchor is SPT-Deep (Kornoelje et al. 2025, arXiv 2503.17271): ~5
candidates per deg^2 at xi > 4 with ~89 % purity at 3.0/2.2/9.0 uK-arcmin.

Usage::

    .venv/bin/python benchmarks/mf_purity.py results results/spt3g [--configfile ...] [--stage dust]

Each directory's configuration is the one its candidate table records (its ``mf`` meta) plus
``--config`` for the footprint and nside (all skyhunt presets share the default patch).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.mf.matching import match_halos
from skyhunt.mf.search import search_margin_arcmin
from skyhunt.sky.footprint import Footprint


def searched_area_deg2(fp: Footprint, margin_arcmin: float, n: int = 2000) -> float:
    """Solid angle of the footprint at least ``margin_arcmin`` inside its edges, deg^2."""
    m = margin_arcmin / 60.0
    dec = np.linspace(fp.dec_min + m, fp.dec_max - m, n)
    width = (fp.ra_max - fp.ra_min) * np.cos(np.radians(dec)) - 2.0 * m
    return float(np.trapezoid(np.clip(width, 0.0, None), dec))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="results directories of finished runs")
    parser.add_argument("--config", default="config.yaml", help="config with the runs' footprint and nside")
    parser.add_argument("--stage", default="dust")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[4.0, 4.5, 5.0])
    parser.add_argument("--m500c-min", type=float, nargs="+", default=[1e14, 5e13])
    parser.add_argument("--radius", type=float, default=1.0, help="matching radius, arcmin")
    args = parser.parse_args()
    cfg = validate_config(yaml.safe_load(Path(args.config).read_text()))
    fp = Footprint.from_config(cfg["sky"]["footprint"])
    masses = ", ".join(f"{m:.3g}" for m in args.m500c_min)
    print(
        f"stage {args.stage}; purity: fraction with a halo of M500c >= {masses} M_sun within {args.radius}'"
    )
    cols = "".join(f"{f'p({m:.0e})':>10}" for m in args.m500c_min)
    print(f"{'run':<18}{'area deg2':>10}" + "".join(f"{f'N/deg2 >{t:g}':>14}{cols}" for t in args.thresholds))
    for d in map(Path, args.dirs):
        cand, _ = io.read_table(d / "mf" / args.stage / "candidates.parquet")
        mf_cfg = io.read_table_meta(d / "mf" / args.stage / "candidates.parquet")["mf"]
        area = searched_area_deg2(fp, search_margin_arcmin(cfg["sky"]["nside"], mf_cfg))
        halos = io.read_table(d / "sky" / "halos.parquet")[0]
        ra, dec = cand["ra"].to_numpy(), cand["dec"].to_numpy()
        real = [
            match_halos(ra, dec, halos[halos["m500c"] >= m].reset_index(drop=True), args.radius) >= 0
            for m in args.m500c_min
        ]
        cells = ""
        for t in args.thresholds:
            above = cand["snr"].to_numpy() > t
            cells += f"{above.sum() / area:>14.2f}" + "".join(f"{r[above].mean():>10.3f}" for r in real)
        print(f"{str(d):<18}{area:>10.1f}{cells}")


if __name__ == "__main__":
    main()
