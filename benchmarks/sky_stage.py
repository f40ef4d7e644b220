"""Wall time and peak memory of the sky stage against patch area.

Runs every sky step (CAMB spectrum, halos, sources, CMB, SZ, point sources,
dust, noise, observed stage maps) in-process for square patches of growing
area at the configured nside, one subprocess per area so that peak memory
(ru_maxrss) is measured per area. Prints one table.

Usage::

    .venv/bin/python benchmarks/sky_stage.py [--areas 25 100 400] [--nside 8192] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def run_one(area_deg2: float, nside: int, threads: int) -> dict:
    from skyhunt.config import validate_config
    from skyhunt.sky import pipeline
    from skyhunt.sky.components import stage_components

    cfg = validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))
    sky = cfg["sky"]
    side = area_deg2**0.5
    sky["nside"] = nside
    sky["footprint"] = {"ra_min": 0.0, "ra_max": side, "dec_min": 0.0, "dec_max": side}
    bands = [b["name"] for b in sky["bands"]]
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        def step(name, fn, *args):
            t0 = time.perf_counter()
            fn(*args)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

        def comp(c):
            return [d / f"{c}_{b}.fits" for b in bands]

        step("cmb_spectrum", pipeline.run_cmb_spectrum, sky, d / "cl.ecsv")
        step("halos", pipeline.run_halos, sky, cfg["seed"], d / "halos.parquet", cfg["cutouts"]["positive"])
        step("sources", pipeline.run_sources, sky, cfg["seed"], d / "halos.parquet", d / "src.parquet")
        step("cmb_map", pipeline.run_cmb_map, sky, cfg["seed"], d / "cl.ecsv", comp("cmb"), threads)
        step("sz_maps", pipeline.run_sz_maps, sky, d / "halos.parquet", comp("tsz"), comp("ksz"))
        step("source_maps", pipeline.run_source_maps, sky, d / "src.parquet", comp("ir"), comp("radio"))
        step("dust_map", pipeline.run_dust_map, sky, cfg["seed"], comp("dust"), threads)
        for b in bands:
            step("noise_map", pipeline.run_noise_map, sky, cfg["seed"], b, d / f"noise_{b}.fits")
        for s in sky["stages"]:
            for b in bands:
                inputs = [d / f"{c}_{b}.fits" for c in stage_components(sky["stages"], s["name"])]
                step(
                    "observed_map",
                    pipeline.run_observed_map,
                    sky,
                    b,
                    s["name"],
                    inputs + [d / f"noise_{b}.fits"],
                    d / f"obs_{s['name']}_{b}.fits",
                )
    timings["total"] = sum(timings.values())
    timings["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=float, nargs="+", default=[25.0, 100.0, 400.0])
    parser.add_argument("--nside", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.nside, args.threads)))
        return
    rows = []
    for area in args.areas:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(area),
            "--nside",
            str(args.nside),
            "--threads",
            str(args.threads),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows.append((area, json.loads(out.strip().splitlines()[-1])))
    keys = [k for k in rows[0][1] if k not in ("total", "peak_rss_gb")]
    print(
        f"sky stage at nside {args.nside}, {args.threads} threads: seconds per step (sequential, one process)"
    )
    print(f"{'step':<14}" + "".join(f"{a:>10.0f} deg2" for a, _ in rows))
    for k in keys + ["total"]:
        print(f"{k:<14}" + "".join(f"{r[k]:>15.1f}" for _, r in rows))
    print(f"{'peak RSS GB':<14}" + "".join(f"{r['peak_rss_gb']:>15.2f}" for _, r in rows))


if __name__ == "__main__":
    main()
