"""Matched-filter completeness and false detections of a finished default run, per noise stage.

Needs ``snakemake --cores 2 mf``. For every stage it prints, at SNR thresholds 4.5 and 5,
the completeness for qualifying halos (M_vir >= cutouts.positive.m_vir_min, z >= z_min, in
the footprint and in the area the filter searched: more than the interpolation reach plus
the apodization width inside the footprint edge), the number of detections, of unmatched
ones (no halo within mf.matching.radius_arcmin: false) and of those matched to a halo below
the cut, and, on the cutouts (results/mf/<stage>/cutout_snr.parquet), the fraction of
positive cutouts whose SNR passes the threshold and the fraction of passing cutouts that
are positive.

Usage::

    .venv/bin/python benchmarks/mf_checks.py [--thresholds 4.5 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.mf.matching import completeness
from skyhunt.mf.search import search_margin_arcmin
from skyhunt.mf.tiles import inside_mask
from skyhunt.sky.footprint import Footprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[4.5, 5.0])
    args = parser.parse_args()
    cfg = validate_config(yaml.safe_load(Path("config.yaml").read_text()))
    sky, mf, pos = cfg["sky"], cfg["mf"], cfg["cutouts"]["positive"]
    footprint = Footprint.from_config(sky["footprint"])
    margin = search_margin_arcmin(sky["nside"], mf)
    halos, _ = io.read_table("results/sky/halos.parquet")
    index, _ = io.read_table("results/cutouts/index.parquet")
    print(
        f"searched area: footprint minus {margin:.2f}' at the edges; matching radius "
        f"{mf['matching']['radius_arcmin']}'"
    )
    rows = []
    for stage in [s["name"] for s in sky["stages"]]:
        cand, _ = io.read_table(f"results/mf/{stage}/candidates.parquet")
        snr_cut, _ = io.read_table(f"results/mf/{stage}/cutout_snr.parquet")
        comp = completeness(
            cand,
            halos,
            pos["m_vir_min"],
            pos["z_min"],
            mf["matching"]["radius_arcmin"],
            args.thresholds,
            region=lambda ra, dec: inside_mask(footprint, ra, dec, margin),
        )
        label = index["label"].to_numpy() == 1
        for k, s in enumerate(args.thresholds):
            hit = snr_cut["snr"].to_numpy() >= s
            rows.append(
                {
                    "stage": stage,
                    **comp.iloc[k].to_dict(),
                    "cutout_recall": float(np.mean(hit[label])),
                    "cutout_precision": float(np.mean(label[hit])) if hit.any() else float("nan"),
                }
            )
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
