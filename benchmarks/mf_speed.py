"""Speed of the matched-filter rules: an older revision and this tree, side by side, same inputs.

Runs the step functions of ``matched_filter`` (one job per ``--stages``), ``inject_mf``
(batch 0), ``mf_masses`` and ``match_mf`` with the inputs of a finished default run
(``--results``, read only) and the arguments their rules pass (built here from
``config.yaml``), once with the code of ``--old`` (a git revision, exported with
``git archive``) and once with this tree's ``src``. Each call is its own Python process,
as a Snakemake job is, with the threads its rule has in that revision (``--old-threads``,
``--threads``: ``matched_filter`` and ``inject_mf`` had 2 before this branch, 1 on it; the
other two take none). The table gives its wall time (s), CPU time (user + system, s), the
core-seconds the scheduler books for it (wall times threads), peak resident memory (GB), and
whether its outputs are byte-identical (sha256) to the old revision's.

Usage::

    .venv/bin/python benchmarks/mf_speed.py --old main [--results results]
        [--rules matched_filter inject_mf mf_masses match_mf] [--stages dust]
        [--old-threads 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RED_NOISE_KEYS = ("red_correlation", "red_correlation_groups", "red_ell_min", "red_cut_fraction")


def filter_kwargs(cfg: dict, results: Path, stage: str, threads: int) -> dict:
    """The arguments ``matched_filter`` passes for one stage (no scan filter, uniform depth)."""
    from skyhunt.sky.components import stage_components

    sky = cfg["sky"]
    return {
        "nside": sky["nside"],
        "footprint": sky["footprint"],
        "bands": sky["bands"],
        "point_sources": sky["point_sources"],
        "red_noise": {k: sky["noise"][k] for k in RED_NOISE_KEYS},
        "mf": {k: v for k, v in cfg["mf"].items() if k != "matching"},
        "components": stage_components(sky["stages"], stage),
        "stage": stage,
        "scan_filter": None,
        "maps": [str(results / f"sky/observed/{stage}_{b['name']}.fits") for b in sky["bands"]],
        "spectrum": str(results / "sky/cmb_spectrum.ecsv"),
        "sources": str(results / "sky/sources.parquet"),
        "threads": threads,
    }


def jobs(
    cfg: dict, results: Path, rules: list, stages: list, threads: int
) -> list[tuple[str, str, dict, list]]:
    """(label, step function, arguments without outputs, output names) of each job to time.

    ``threads`` goes to the rules that take it (``matched_filter``, ``inject_mf``).
    """
    sky = cfg["sky"]
    stage = cfg["evaluation"]["stage"] or cfg["cnn"]["stages"][-1]
    out = []
    if "matched_filter" in rules:
        for s in stages:
            out.append(
                (
                    f"matched_filter {s}",
                    "skyhunt.mf.pipeline:run_matched_filter",
                    filter_kwargs(cfg, results, s, threads),
                    ["candidates", "removed_sources"],
                )
            )
    if "inject_mf" in rules:
        kw = filter_kwargs(cfg, results, stage, threads)
        kw.update(
            cosmology=sky["cosmology"],
            halo_model={
                k: sky["halos"][k]
                for k in ("truncation_r500", "y_scatter_ln", "v_los_sigma_km_s", "relativistic_tsz")
            },
            selection={
                k: cfg["selection"][k]
                for k in ("injections", "grid", "edge_arcmin", "separation_arcmin", "avoid")
            },
            match_radius_arcmin=cfg["catalogues"]["match_radius_arcmin"],
            seed=cfg["seed"],
            batch=0,
            halos=str(results / "sky/halos.parquet"),
        )
        out.append(("inject_mf 0", "skyhunt.selection.pipeline:run_inject_mf", kw, ["injections"]))
    if "mf_masses" in rules:
        kw = filter_kwargs(cfg, results, stage, threads)
        for k in ("maps", "threads"):
            del kw[k]
        kw["mf"] = cfg["mf"]
        kw.update(
            cosmology=sky["cosmology"],
            halo_model={k: sky["halos"][k] for k in ("y_scatter_ln", "truncation_r500", "mass_function")},
            masses={k: v for k, v in cfg["masses"].items() if k not in ("metrics", "cnn")},
            candidates=str(results / f"mf/{stage}/candidates.parquet"),
            halos=str(results / "sky/halos.parquet"),
        )
        out.append(("mf_masses", "skyhunt.masses.pipeline:run_mf_masses", kw, ["table"]))
    if "match_mf" in rules:
        for s in stages:
            kw = {
                "cutouts": {k: cfg["cutouts"][k] for k in ("size_arcmin", "npix", "stride_arcmin")},
                "matching": cfg["mf"]["matching"],
                "candidates": str(results / f"mf/{s}/candidates.parquet"),
                "halos": str(results / "sky/halos.parquet"),
                "index": str(results / "cutouts/index.parquet"),
            }
            out.append((f"match_mf {s}", "skyhunt.mf.pipeline:run_match_mf", kw, ["cutout_snr_table"]))
    return out


def run_child(src: Path, target: str, kwargs: dict) -> tuple[float, float, float]:
    """Run one step in a fresh process with ``src`` on its path: (wall s, CPU s, peak RSS GB)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", target], stdin=subprocess.PIPE, env=env)
    proc.stdin.write(json.dumps(kwargs).encode())
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{target} failed with exit code {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1e6


def child(target: str) -> None:
    """Call ``module:function`` with the JSON keyword arguments on stdin."""
    import importlib
    import logging

    logging.basicConfig(level=logging.INFO, format="    %(name)s: %(message)s")
    module, name = target.split(":")
    getattr(importlib.import_module(module), name)(**json.loads(sys.stdin.read()))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="git revision of the old code")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument(
        "--rules", nargs="+", default=["matched_filter", "inject_mf", "mf_masses", "match_mf"]
    )
    parser.add_argument("--stages", nargs="+", default=["dust"])
    parser.add_argument("--old-threads", type=int, default=2, help="threads of the old MF rules")
    parser.add_argument("--threads", type=int, default=1, help="threads of this tree's MF rules")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from skyhunt.config import validate_config

    cfg = validate_config(yaml.safe_load(args.config.read_text()))
    results = args.results.resolve()
    with tempfile.TemporaryDirectory(prefix="mf_speed_") as tmp:
        old_src = Path(tmp) / "old"
        old_src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.old, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
        rows = []
        sides = {
            "old": (old_src / "src", jobs(cfg, results, args.rules, args.stages, args.old_threads)),
            "new": (ROOT / "src", jobs(cfg, results, args.rules, args.stages, args.threads)),
        }
        for k, (label, target, _, outputs) in enumerate(sides["new"][1]):
            timing, digests = {}, {}
            for which, (src, side_jobs) in sides.items():
                kwargs = side_jobs[k][2]
                out_dir = Path(tmp) / which / label.replace(" ", "_")
                out_dir.mkdir(parents=True)
                paths = {name: out_dir / f"{name}.parquet" for name in outputs}
                print(f"{label}, {which} ({args.old if which == 'old' else 'this tree'}):", flush=True)
                wall, cpu, rss = run_child(src, target, {**kwargs, **{n: str(p) for n, p in paths.items()}})
                timing[which] = (wall, cpu, wall * kwargs.get("threads", 1), rss)
                digests[which] = [sha256(p) for p in paths.values()]
            rows.append((label, timing, digests["old"] == digests["new"]))
    print(f"\n{'rule':<24} {'':>4} {'wall s':>8} {'CPU s':>8} {'core s':>8} {'RSS GB':>7}  outputs")
    for label, timing, same in rows:
        for which in ("old", "new"):
            wall, cpu, booked, rss = timing[which]
            note = ("identical" if same else "DIFFER") if which == "new" else ""
            print(f"{label:<24} {which:>4} {wall:8.1f} {cpu:8.1f} {booked:8.1f} {rss:7.2f}  {note}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
