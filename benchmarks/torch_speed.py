"""Wall time, CPU time and peak memory of the torch rules, before and after a change, side by side.

Both sides run the same jobs on the same inputs in one invocation: ``--before`` is a git
revision, unpacked with ``git archive`` into a temporary directory; ``--after`` is a revision
too, or (the default) this checkout's working tree. Each side gets its own results directory
whose input files are symbolic links to those of ``--results`` (a finished default run), without
any training state (``checkpoints`` directories) and without the outputs of the measured rules,
so every job trains or scores afresh. Jobs run one at a time through Snakemake
(``--allowed-rules``, ``--forcerun``, one core), the two sides alternating job by job so that a
change in the machine's load hits both alike; a job that needs another measured rule's output
(``score_cnn`` the model of ``train_cnn``) reads its own side's.

Per job it prints the job's wall time (the rule's Snakemake benchmark file, which starts when the
rule's script starts, so interpreter and import start-up are in it), the CPU time and peak RSS of
the whole Snakemake invocation (``os.wait4``; Snakemake's own few seconds of DAG building are the
same on both sides), and whether the two sides' outputs have the same SHA-256.

Usage::

    nice -n 10 .venv/bin/python benchmarks/torch_speed.py --before main [--after HEAD]
        [--results results] [--rules train_cnn score_cnn ...] [--stages cmb_tsz ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: The measured rules in the order they run, with their outputs (relative to the results
#: directory; ``{stage}`` a noise stage, ``{eval}`` the evaluation stage) and benchmark file.
RULES = {
    "train_cnn": (
        ("cnn/{stage}/model.ckpt", "cnn/{stage}/history.csv", "cnn/{stage}/training.json"),
        "cnn/train_{stage}.tsv",
    ),
    "score_cnn": (("cnn/{stage}/scores.parquet",), "cnn/score_{stage}.tsv"),
    "edge_effect_scores": (
        ("edge_effect/recut_scores.parquet", "edge_effect/dense_scores.parquet"),
        "edge_effect/scores.tsv",
    ),
    "train_detector": (
        ("detector/{eval}/model.ckpt", "detector/{eval}/history.csv", "detector/{eval}/training.json"),
        "detector/train_{eval}.tsv",
    ),
    "detect": (("detector/{eval}/detections.parquet",), "detector/detect_{eval}.tsv"),
    "train_cnn_mass": (
        ("masses/cnn_{eval}/model.ckpt", "masses/cnn_{eval}/history.csv", "masses/cnn_{eval}/training.json"),
        "masses/train_cnn_mass_{eval}.tsv",
    ),
    "cnn_masses": (("masses/cnn_{eval}.parquet",), "masses/cnn_masses_{eval}.tsv"),
    "train_vetter": (
        (
            "vetting/{eval}/cnn/model.ckpt",
            "vetting/{eval}/cnn/history.csv",
            "vetting/{eval}/cnn/training.json",
        ),
        "vetting/train_vetter_{eval}.tsv",
    ),
    "vet_candidates": (
        ("vetting/{eval}/scores.parquet", "vetting/{eval}/summary.json"),
        "vetting/vet_candidates_{eval}.tsv",
    ),
}
PER_STAGE = ("train_cnn", "score_cnn")


def unpack(revision: str, into: Path) -> Path:
    """The tree of ``revision`` of this repository, unpacked into ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def link_inputs(source: Path, results: Path, skip: set[str]) -> None:
    """Mirror ``source``'s files into ``results`` as symbolic links, leaving out training state,
    logs, benchmarks and the files in ``skip`` (relative paths)."""
    for path in source.rglob("*"):
        rel = path.relative_to(source)
        if path.is_dir() or "checkpoints" in rel.parts or rel.parts[0] in ("logs", "benchmarks"):
            continue
        if rel.as_posix() in skip:
            continue
        (results / rel).parent.mkdir(parents=True, exist_ok=True)
        (results / rel).symlink_to(path.resolve())


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def run_job(tree: Path, results: Path, rule: str, targets: list[str], bench: str) -> dict:
    """Run one job through Snakemake in ``tree``; its benchmark, CPU, peak RSS and output digests."""
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [
        str(snakemake),
        "--cores",
        "1",
        "--nolock",
        "--allowed-rules",
        rule,
        "--forcerun",
        rule,
        "--config",
        f"results_dir={results}",
        "--",
        *(str(results / t) for t in targets),
    ]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    t0 = time.perf_counter()
    with open(results.parent / f"{rule}.snakemake.log", "a") as log:
        proc = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise RuntimeError(f"{rule} failed in {tree} (see {results.parent / f'{rule}.snakemake.log'})")
    with open(results / "benchmarks" / bench) as f:
        row = next(csv.DictReader(f, delimiter="\t"))
    return {
        "job_s": float(row["s"]),
        "total_s": time.perf_counter() - t0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "digests": [sha256(results / t) for t in targets],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="git revision of the 'before' side")
    parser.add_argument(
        "--after", default=None, help="git revision of the 'after' side (default: working tree)"
    )
    parser.add_argument("--results", default=str(ROOT / "results"), help="a finished default run's results")
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    parser.add_argument("--stages", nargs="+", default=None, help="noise stages (default: config cnn.stages)")
    parser.add_argument("--keep", default=None, help="work in this directory and keep it")
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    stages = args.stages or config["cnn"]["stages"]
    eval_stage = config["evaluation"]["stage"] or config["cnn"]["stages"][-1]
    jobs = [
        (
            rule,
            [o.format(stage=s, eval=eval_stage) for o in RULES[rule][0]],
            RULES[rule][1].format(stage=s, eval=eval_stage),
            s if rule in PER_STAGE else eval_stage,
        )
        for rule in RULES
        if rule in args.rules
        for s in (stages if rule in PER_STAGE else [eval_stage])
    ]
    skip = {t for _, targets, _, _ in jobs for t in targets}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="torch_speed_"))
    sides = {}
    for side, revision in (("before", args.before), ("after", args.after)):
        tree = unpack(revision, work / side / "tree") if revision else ROOT
        results = work / side / "results"
        link_inputs(Path(args.results).resolve(), results, skip)
        sides[side] = (tree, results)
    print(f"before: {args.before}, after: {args.after or 'working tree'}; inputs {args.results}; work {work}")
    header = f"{'rule':<20} {'wildcard':<8} {'job s':>13} {'CPU s':>13} {'peak RSS MB':>13}  outputs"
    print(header)
    print("-" * len(header))
    totals = {"before": [0.0, 0.0], "after": [0.0, 0.0]}
    for rule, targets, bench, wildcard in jobs:
        got = {side: run_job(*sides[side], rule, targets, bench) for side in ("before", "after")}
        for side, r in got.items():
            totals[side][0] += r["job_s"]
            totals[side][1] += r["cpu_s"]
        b, a = got["before"], got["after"]
        same = "identical" if b["digests"] == a["digests"] else "DIFFER"
        print(
            f"{rule:<20} {wildcard:<8} {b['job_s']:6.1f} {a['job_s']:6.1f} "
            f"{b['cpu_s']:6.1f} {a['cpu_s']:6.1f} {b['peak_rss_mb']:6.0f} {a['peak_rss_mb']:6.0f}  {same}",
            flush=True,
        )
    print(
        f"{'total':<29} {totals['before'][0]:6.1f} {totals['after'][0]:6.1f} "
        f"{totals['before'][1]:6.1f} {totals['after'][1]:6.1f}"
    )
    print("(each pair: before after; job s from the rule's benchmark file, CPU s and peak RSS of the")
    print(" Snakemake invocation, which adds its own start-up to both sides alike)")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
