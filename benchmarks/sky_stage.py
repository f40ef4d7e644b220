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
    names = [b["name"] for b in sky["bands"]]
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        def step(name, fn, **kwargs):
            t0 = time.perf_counter()
            fn(**kwargs)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

        def comp(c):
            return [d / f"{c}_{b}.fits" for b in names]

        seed, fp, nside = cfg["seed"], sky["footprint"], sky["nside"]
        halos, srcs, cl = d / "halos.parquet", d / "src.parquet", d / "cl.ecsv"
        step(
            "cmb_spectrum",
            pipeline.run_cmb_spectrum,
            cosmology=sky["cosmology"],
            lmax=sky["cmb"]["lmax"],
            spectrum=cl,
        )
        halo_keys = {"footprint": fp, "margin_deg": sky["margin_deg"], "cosmology": sky["cosmology"]}
        step("halos", pipeline.run_halos, **halo_keys, halo_model=sky["halos"], seed=seed, halos=halos)
        step(
            "sources",
            pipeline.run_sources,
            footprint=fp,
            margin_deg=sky["margin_deg"],
            point_sources=sky["point_sources"],
            bands=sky["bands"],
            seed=seed,
            halos=halos,
            sources=srcs,
        )
        maps = {"footprint": fp, "nside": nside, "bands": sky["bands"]}
        step(
            "cmb_map", pipeline.run_cmb_map, **maps, seed=seed, spectrum=cl, cmb=comp("cmb"), threads=threads
        )
        trunc = sky["halos"]["truncation_r500"]
        step(
            "sz_maps",
            pipeline.run_sz_maps,
            **maps,
            truncation_r500=trunc,
            halos=halos,
            tsz=comp("tsz"),
            ksz=comp("ksz"),
        )
        step(
            "source_maps", pipeline.run_source_maps, **maps, sources=srcs, ir=comp("ir"), radio=comp("radio")
        )
        step(
            "dust_map",
            pipeline.run_dust_map,
            **maps,
            dust_model=sky["dust"],
            seed=seed,
            dust=comp("dust"),
            threads=threads,
        )
        for band in sky["bands"]:
            b = band["name"]
            step(
                "noise_map",
                pipeline.run_noise_map,
                footprint=fp,
                nside=nside,
                band=band,
                seed=seed,
                noise=d / f"noise_{b}.fits",
            )
        for s in sky["stages"]:
            for band in sky["bands"]:
                b = band["name"]
                inputs = [d / f"{c}_{b}.fits" for c in stage_components(sky["stages"], s["name"])]
                step(
                    "observed_map",
                    pipeline.run_observed_map,
                    nside=nside,
                    band=band,
                    stage=s["name"],
                    maps=inputs + [d / f"noise_{b}.fits"],
                    observed=d / f"obs_{s['name']}_{b}.fits",
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
