"""Growth of every CPU stage of the workflow with the patch area: wall time, CPU time, peak memory.

For each area, writes a configuration (``config.yaml``, optionally with presets merged over it)
with a square footprint of that area at RA, Dec = 0, runs the workflow's targets (by default
the sky, the cutouts, the matched filter of every stage and the CNN of the evaluation stage,
training and inference) in a fresh temporary directory, and reads the rules' own benchmark
tables (``<results_dir>/benchmarks/**/*.tsv``). Prints, per rule (named by its benchmark's
folder and file: ``cnn/train``, ``detector/train``), the wall and CPU seconds
summed over its jobs and the largest peak RSS of one job, then the growth of each against area:
the marginal cost per 100 deg² between consecutive areas. A stage linear in area beyond a
constant start-up cost has equal marginal costs (verdict ``linear``: the last at most 1.3 times
the first); ``FASTER`` flags one that grows faster; ``const`` one whose increments are within
the noise (2 s, 2 CPU s, 50 MB), such as ``cmb_spectrum`` (CAMB, no footprint). The trainings
take a fixed number of batches but still grow: their validation sets, scored at every
evaluation, grow with the area. The CPU column comes from Snakemake's benchmark sampling and
is coarse; trust the wall column on a quiet machine. Usage::

    .venv/bin/python benchmarks/scale.py [--areas 25 120 480] [--preset FILE] [--cores 2]
        [--targets sky cutouts mf score_cnn]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
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


def area_config(area_deg2: float, presets: list) -> dict:
    """``config.yaml`` with the presets merged over it and a square footprint of ``area_deg2``."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for p in presets:
        cfg = merged(cfg, yaml.safe_load(Path(p).read_text()))
    side = float(area_deg2**0.5)
    cfg["sky"]["footprint"] = {"ra_min": 0.0, "ra_max": side, "dec_min": 0.0, "dec_max": side}
    cfg["results_dir"] = "results"
    return cfg


def targets_of(names: list, cfg: dict) -> list:
    """Snakemake targets: rule names as they are, ``score_cnn`` as the evaluation stage's scores."""
    stage = (cfg.get("evaluation") or {}).get("stage") or cfg["cnn"]["stages"][-1]
    paths = {"score_cnn": f"results/cnn/{stage}/scores.parquet"}
    return [paths.get(n, n) for n in names]


def run_area(area_deg2: float, presets: list, cores: int, targets: list) -> tuple[dict, float]:
    """(rule -> [wall s, CPU s summed over jobs, max peak RSS of one job in MB], total wall s)."""
    cfg = area_config(area_deg2, presets)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(cfg))
        cmd = [sys.executable, "-m", "snakemake", *targets_of(targets, cfg)]
        cmd += ["--snakefile", str(REPO / "Snakefile"), "--directory", tmp, "--cores", str(cores), "--quiet"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode:
            sys.exit(f"area {area_deg2:g} deg2 failed:\n{done.stderr[-4000:]}")
        rules = defaultdict(lambda: [0.0, 0.0, 0.0])
        bench = Path(tmp) / "results" / "benchmarks"
        for tsv in sorted(bench.rglob("*.tsv")):
            # by folder too: cnn/train_<stage> and detector/train_<stage> are different rules
            rule = f"{tsv.parent.relative_to(bench)}/{job_rule(tsv.stem, cfg)}"
            row = pd.read_csv(tsv, sep="\t").iloc[-1]
            rules[rule][0] += float(row["s"])
            rules[rule][1] += float(row["cpu_time"])
            rules[rule][2] = max(rules[rule][2], float(row["max_rss"]))
    return dict(rules), wall


def marginal(areas: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cost per 100 deg² between consecutive areas: (v[i+1] - v[i]) / (A[i+1] - A[i]) * 100."""
    return np.diff(values) / np.diff(areas) * 100.0


def growth_text(areas: np.ndarray, values: np.ndarray, noise: float) -> str:
    """Marginal costs per 100 deg² and a verdict: ``const`` (the increments are within ``noise``
    of zero), ``linear`` (the last increment at most 1.3 times the first) or ``FASTER``."""
    m = marginal(areas, values)
    cells = "/".join(f"{x:.1f}" for x in m)
    if np.all(np.abs(np.diff(values)) <= noise):
        return f"{cells} const"
    if m.size < 2 or m[0] <= 0:
        return f"{cells}"
    return f"{cells} {'linear' if m[-1] <= 1.3 * m[0] else 'FASTER'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=float, nargs="+", default=[25.0, 120.0, 480.0])
    parser.add_argument("--preset", action="append", default=[], help="config file merged over config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--targets", nargs="+", default=["sky", "cutouts", "mf", "score_cnn"])
    args = parser.parse_args()
    areas = np.array(sorted(args.areas), dtype=float)
    results = [run_area(float(a), args.preset, args.cores, args.targets) for a in areas]
    names = sorted({r for rules, _ in results for r in rules})
    print(f"{' '.join(args.targets)} ({' + '.join(['config.yaml', *args.preset])}), {args.cores} cores")
    print("per rule: wall s / CPU s summed over its jobs / largest peak RSS of one job (MB)")
    head = "".join(f"{a:>22.0f} deg2" for a in areas)
    print(f"{'benchmark':<22}{head}   per 100 deg2: wall s | CPU s | MB")
    for n in names:
        cells = np.array([rules.get(n, [np.nan] * 3) for rules, _ in results])
        verdicts = [growth_text(areas, cells[:, k], noise) for k, noise in enumerate((2.0, 2.0, 50.0))]
        row = "".join(f"{w:>9.1f} {c:>8.1f} {m:>8.0f}" for w, c, m in cells)
        print(f"{n:<22}{row}   {' | '.join(verdicts)}")
    walls = np.array([w for _, w in results])
    row = "".join(f"{w:>26.1f}" for w in walls)
    print(f"{'snakemake wall':<22}{row}   {growth_text(areas, walls, 2.0)}")


if __name__ == "__main__":
    main()
