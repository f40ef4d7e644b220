"""Wall time and peak memory of the sky stage against patch area, through the real workflow.

For each area, writes a configuration (``config.yaml``, optionally with presets merged over it,
e.g. ``workflow/presets/spt3g.yaml`` for everything on) with a square footprint of that area
at RA, Dec = 0, runs ``snakemake sky`` in a fresh temporary directory, and reads the rules'
own benchmark tables (``<results_dir>/benchmarks/sky/*.tsv``). Prints, per rule, the wall time
summed over its jobs and the largest peak RSS of one job, and the run's total wall time.

Usage::

    .venv/bin/python benchmarks/sky_stage.py [--areas 25 100 400] [--preset workflow/presets/spt3g.yaml]
        [--cores 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def merged(base: dict, over: dict) -> dict:
    """``over`` merged into ``base`` key by key (as Snakemake merges config files)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def job_rule(stem: str, cfg: dict) -> str:
    """The rule of a benchmark file: its band and stage wildcards removed (``observed_dust_090``)."""
    for names in ([b["name"] for b in cfg["sky"]["bands"]], [s["name"] for s in cfg["sky"]["stages"]]):
        for n in names:
            if stem.endswith(f"_{n}"):
                stem = stem[: -len(n) - 1]
                break
    return stem


def run_area(area_deg2: float, presets: list, cores: int) -> tuple[dict, float]:
    """(rule -> (seconds summed over jobs, max peak RSS in MB)), total wall seconds) of one area."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for p in presets:
        cfg = merged(cfg, yaml.safe_load(Path(p).read_text()))
    side = area_deg2**0.5
    cfg["sky"]["footprint"] = {"ra_min": 0.0, "ra_max": side, "dec_min": 0.0, "dec_max": side}
    cfg["results_dir"] = "results"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(cfg))
        cmd = [sys.executable, "-m", "snakemake", "sky", "--snakefile", str(REPO / "Snakefile")]
        cmd += ["--directory", tmp, "--cores", str(cores), "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rules = defaultdict(lambda: [0.0, 0.0])
        for tsv in sorted((Path(tmp) / "results" / "benchmarks" / "sky").glob("*.tsv")):
            rule = job_rule(tsv.stem, cfg)
            row = pd.read_csv(tsv, sep="\t").iloc[-1]
            rules[rule][0] += float(row["s"])
            rules[rule][1] = max(rules[rule][1], float(row["max_rss"]))
    return dict(rules), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=float, nargs="+", default=[25.0, 100.0, 400.0])
    parser.add_argument("--preset", action="append", default=[], help="config file merged over config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    results = [(a, *run_area(a, args.preset, args.cores)) for a in args.areas]
    names = sorted({r for _, rules, _ in results for r in rules})
    print(f"sky stage ({' + '.join(['config.yaml', *args.preset])}), {args.cores} cores")
    print("rule: wall seconds summed over its jobs / largest peak RSS of one job (MB)")
    print(f"{'rule':<16}" + "".join(f"{a:>16.0f} deg2" for a, _, _ in results))
    for n in names:
        cells = [rules.get(n, (float("nan"), float("nan"))) for _, rules, _ in results]
        print(f"{n:<16}" + "".join(f"{s:>12.1f} s {m:>6.0f}" for s, m in cells))
    print(f"{'snakemake wall':<16}" + "".join(f"{w:>19.1f} s" for _, _, w in results))


if __name__ == "__main__":
    main()
