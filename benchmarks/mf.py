"""Matched-filter speed and memory: the default patch, and growth with area.

1. The default patch (needs ``snakemake --cores 2 sky``): all tiles of one noise stage
   (default ``dust``) through :func:`skyhunt.mf.search.search`, every scale of the bank
   (12 by default) and every band (3), timed without the map reading.
2. Synthetic patches of white noise at the default nside and bands over RA/Dec boxes of
   the given areas (default 25, 100 and 400 deg^2): wall time per deg^2 should stay flat
   and memory should not grow with area (tiles are processed one at a time).

Prints wall time, time per deg^2, the peak of traced (numpy) memory and the process's
peak resident memory after each step.

Usage::

    .venv/bin/python benchmarks/mf.py [--stage dust] [--areas 25 100 400] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.mf import noise
from skyhunt.mf.search import SearchInputs, search
from skyhunt.sky.components import component_rng, stage_components, white_noise_sigma_uk
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_cmb_spectrum


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def timed_search(maps, pixels, inp, threads) -> tuple[float, float, int]:
    tracemalloc.start()
    t0 = time.perf_counter()
    cand = search(maps, pixels, inp, threads)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    return dt, peak, len(cand)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dust")
    parser.add_argument("--areas", type=float, nargs="+", default=[25.0, 100.0, 400.0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    cfg = validate_config(yaml.safe_load(Path("config.yaml").read_text()))
    sky, mf = cfg["sky"], cfg["mf"]
    nside, bands = sky["nside"], sky["bands"]
    cl = read_cmb_spectrum("results/sky/cmb_spectrum.ecsv")
    n_scales = len(mf["core_radii_arcmin"] if mf["template"] == "beta" else mf["arnaud"]["theta500_arcmin"])
    print(
        f"{n_scales} scales x {len(bands)} bands, tiles of {mf['tiles']['core_deg']} deg cores + "
        f"{mf['tiles']['overlap_deg']} deg overlap at {mf['tiles']['pixel_arcmin']}' pixels, "
        f"{args.threads} threads"
    )
    print(
        f"{'patch':>28} {'deg^2':>7} {'wall s':>8} {'s/deg^2':>8} {'numpy peak GB':>14} {'RSS GB':>7} "
        f"{'cand.':>7}"
    )

    fp = Footprint.from_config(sky["footprint"])
    pixels, maps = io.read_partial_maps(
        [f"results/sky/observed/{args.stage}_{b['name']}.fits" for b in bands], nside
    )
    inp = SearchInputs(
        nside,
        fp,
        bands,
        noise.config_point_sources(bands, sky["point_sources"]),
        mf,
        cl,
        stage_components(sky["stages"], args.stage),
    )
    dt, peak, n = timed_search(maps, pixels, inp, args.threads)
    print(
        f"{'default, ' + args.stage:>28} {fp.area_deg2:7.1f} {dt:8.1f} {dt / fp.area_deg2:8.3f} {peak:14.2f} "
        f"{rss_gb():7.2f} {n:7d}"
    )
    del maps, pixels

    rng = component_rng(cfg["seed"], "benchmark_mf")
    for area in args.areas:
        side = float(np.sqrt(area))
        box = Footprint(0.0, side, 0.0, side)
        pixels = box.pixels(nside)
        maps = np.empty((pixels.size, len(bands)), dtype=np.float32)
        for k, b in enumerate(bands):
            maps[:, k] = rng.standard_normal(pixels.size, dtype=np.float32) * white_noise_sigma_uk(
                b["noise_uk_arcmin"], nside
            )
        inp = SearchInputs(nside, box, bands, None, mf, cl, ["cmb", "tsz"])
        dt, peak, n = timed_search(maps, pixels, inp, args.threads)
        print(
            f"{f'white noise {side:.1f} x {side:.1f} deg':>28} {box.area_deg2:7.1f} {dt:8.1f} "
            f"{dt / box.area_deg2:8.3f} {peak:14.2f} {rss_gb():7.2f} {n:7d}"
        )
        del maps, pixels


if __name__ == "__main__":
    main()
