"""Start-up cost of every workflow job: an older revision and this tree, side by side.

A Snakemake job runs its script in a fresh Python interpreter, which first imports the step
function's module (``workflow/scripts/<rule>.py`` and ``workflow/scripts/figures/<rule>.py``).
On a 2-core workstation the default run has about 90 jobs, so what those imports cost is paid
about 90 times. For every script this benchmark imports what the script imports, in a fresh
interpreter, ``--repeat`` times for each side, alternating the sides so that both see the same
machine load, and takes the median CPU time (user + system, s; wall time is kept too, but CPU
is the figure to trust on a shared machine). The old side is the code of ``--old`` (a git
revision, exported with ``git archive``), the new side this tree's ``src``.

The total weighs every script by the number of its jobs in this tree's default DAG (``snakemake
--dry-run``, job stats), so it is the start-up CPU time a default run pays.

Usage::

    .venv/bin/python benchmarks/startup.py --old main [--repeat 5] [--rules cutouts table1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_LINE = re.compile(r"^(from skyhunt\S* import .+|import (torch|skyhunt)\S*)$")


def script_imports(script: Path) -> str:
    """The import statements of a workflow script (everything but its ``run_step`` call)."""
    lines = [line.strip() for line in script.read_text().splitlines()]
    return "; ".join(line for line in lines if IMPORT_LINE.match(line))


def scripts(tree: Path) -> dict[str, Path]:
    """Rule name -> script, for the workflow scripts of ``tree``."""
    folder = tree / "workflow/scripts"
    found = [*sorted(folder.glob("*.py")), *sorted((folder / "figures").glob("*.py"))]
    return {path.stem: path for path in found}


def job_counts() -> dict[str, int]:
    """Jobs per rule in this tree's default DAG (from a dry run in an empty directory)."""
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "config.yaml").write_text((ROOT / "config.yaml").read_text())
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--snakefile",
                str(ROOT / "Snakefile"),
                "--directory",
                work,
                "--dry-run",
                "--quiet",
                "rules",
                "--cores",
                "2",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        ).stdout
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


def measure(src: Path, statement: str) -> tuple[float, float]:
    """(CPU s, wall s) of one fresh interpreter that runs ``statement`` with ``src`` first on the path."""
    code = (
        "import os, sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter();"
        f"{statement}; t = time.perf_counter() - t; c = os.times(); print(c.user + c.system, t)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, check=True)
    cpu, wall = out.stdout.split()
    return float(cpu), float(wall)


def export(revision: str, dest: Path) -> Path:
    """``src`` and ``workflow`` of ``revision``, unpacked under ``dest``."""
    archive = dest / "old.tar"
    command = ["git", "-C", str(ROOT), "archive", "-o", str(archive), revision, "src", "workflow"]
    subprocess.run(command, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="git revision to compare with (e.g. main)")
    parser.add_argument("--repeat", type=int, default=5, help="interpreters per script and side")
    parser.add_argument("--rules", nargs="*", help="only these scripts (rule names)")
    args = parser.parse_args()

    counts = job_counts()
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = export(args.old, Path(tmp))
        sides = {"old": (old_tree / "src", scripts(old_tree)), "new": (ROOT / "src", scripts(ROOT))}
        names = sorted(set(sides["old"][1]) & set(sides["new"][1]))
        names = [n for n in names if (not args.rules or n in args.rules) and n in counts]
        heads = ("old CPU", "new CPU", "old wall", "new wall")
        print(f"{'script':28s} {'jobs':>4s}", *(f"{h:>8s}" for h in heads))
        total = {"old": 0.0, "new": 0.0}
        start = time.perf_counter()
        for name in names:
            runs = {"old": [], "new": []}
            for _ in range(args.repeat):
                for side, (src, found) in sides.items():
                    runs[side].append(measure(src, script_imports(found[name])))
            cpu = {s: statistics.median(r[0] for r in runs[s]) for s in runs}
            wall = {s: statistics.median(r[1] for r in runs[s]) for s in runs}
            for side in total:
                total[side] += counts[name] * cpu[side]
            values = (v[side] for v in (cpu, wall) for side in ("old", "new"))
            print(f"{name:28s} {counts[name]:4d}", *(f"{v:8.2f}" for v in values))
        jobs = sum(counts[n] for n in names)
        print(
            f"\nstart-up CPU of the {jobs} jobs of the default DAG: old {total['old']:.1f} s, "
            f"new {total['new']:.1f} s ({time.perf_counter() - start:.0f} s to measure)"
        )


if __name__ == "__main__":
    main()
