"""Time and peak memory of one band's noise map with red noise (rule noise_map), on a config's footprint.

Runs :func:`skyhunt.sky.pipeline.run_noise_map` for one band with ``ell_knee`` set, and prints
the red lmax, the wall time and the process's peak resident memory (compare with the
``mem_mb`` that ``noise_map_mem_mb`` in workflow/rules/common.smk requests). Usage::

    .venv/bin/python benchmarks/red_noise.py [--config config.yaml] [--band 148] [--ell-knee 2000]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import yaml

from skyhunt.config import validate_config
from skyhunt.sky import pipeline
from skyhunt.sky.instrument import red_lmax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--band", default="148")
    parser.add_argument("--ell-knee", type=float, default=2000.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    cfg = validate_config(yaml.safe_load(Path(args.config).read_text()))
    sky = cfg["sky"]
    names = [b["name"] for b in sky["bands"]]
    (band,) = [dict(b, ell_knee=args.ell_knee) for b in sky["bands"] if b["name"] == args.band]
    lmax = red_lmax(band, sky["noise"], sky["nside"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        pipeline.run_noise_map(
            footprint=sky["footprint"],
            nside=sky["nside"],
            band=band,
            seed=cfg["seed"],
            noise=Path(tmp) / "noise.fits",
            band_names=names,
            red_noise=sky["noise"],
            threads=args.threads,
        )
        wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        f"band {args.band} (index {names.index(args.band)}), ell_knee {args.ell_knee:g}, red lmax {lmax}, "
        f"nside {sky['nside']}: {wall:.1f} s on {args.threads} thread(s), peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
