"""Opt-in: the tiny workflow through the SLURM profile (workflow/profiles/slurm) on a real scheduler.

Skipped unless ``SKYHUNT_SLURM_TEST=1`` and ``sbatch`` is on PATH, e.g. on the single-node cluster
of ``tests/slurm/start_cluster.sh`` (README, "Three ways to run it", item 2). The run uses the
shipped profile with only what a site sets changed (no account, the cluster's default partition
for the CPU and the GPU rules) and each request capped at the node's CPUs and memory, since the
profile's requests are sized for the paper's octant.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, snakemake, workflow_config, write_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SKYHUNT_SLURM_TEST") != "1", reason="set SKYHUNT_SLURM_TEST=1 to run"),
    pytest.mark.skipif(shutil.which("sbatch") is None, reason="no sbatch on PATH (no SLURM cluster)"),
]

#: The rules that ask the profile for one GPU.
GPU_RULES = {"train_cnn", "score_cnn", "edge_effect_scores"}


def slurm(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def fields(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one line of ``scontrol -o`` output."""
    return dict(re.findall(r"(\w+)=(\S*)", line))


def declared_local_rules() -> set[str]:
    """The rules marked ``localrule: True`` in workflow/rules/*.smk, and the target rule ``all``."""
    local, rule = {"all"}, None
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for line in smk.read_text().splitlines():
            if match := re.match(r"rule (\w+):", line):
                rule = match[1]
            elif line.strip().startswith("localrule: True"):
                local.add(rule)
    return local


def rule_of(job: dict[str, str]) -> str:
    """The rule of a job the executor plugin submitted (its comment: rule_<rule>[_wildcards_...])."""
    return job["Comment"].removeprefix("rule_").split("_wildcards_")[0]


def asks_gpu(job: dict[str, str]) -> bool:
    """Whether the job's requested or allocated TRES hold one GPU."""
    return any(re.search(r"gres[/:]gpu[:=]1\b", job.get(k, "")) for k in ("TresPerJob", "ReqTRES", "TRES"))


def cluster_profile(dest: Path) -> Path:
    """The shipped SLURM profile set up for the cluster on PATH, written to ``dest``."""
    partition = next(p for p in slurm("sinfo", "-h", "-o", "%P").split() if p.endswith("*")).rstrip("*")
    nodes = [fields(line) for line in slurm("scontrol", "-o", "show", "node").splitlines()]
    cpus = min(int(n["CPUTot"]) for n in nodes)
    mem_mb = min(int(n["RealMemory"]) for n in nodes)
    profile = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    del profile["default-resources"]["slurm_account"]  # no accounts without slurmdbd: no -A
    profile["default-resources"]["slurm_partition"] = partition
    for res in profile["set-resources"].values():
        if "slurm_partition" in res:
            res["slurm_partition"] = partition
        if "mem_mb" in res:
            res["mem_mb"] = min(res["mem_mb"], mem_mb)
        if "cpus_per_task" in res:
            res["cpus_per_task"] = min(res["cpus_per_task"], cpus)
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile["set-threads"].items()}
    profile.update(
        {
            "slurm-status-command": "squeue",  # finished jobs stay in slurmctld (MinJobAge)
            "slurm-init-seconds-before-status-checks": 5,
            "slurm-keep-successful-logs": True,
        }
    )
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def outputs(run: Path) -> dict[Path, bytes]:
    """The run's outputs, without job logs, benchmark tables (times) and the trainer's scratch."""
    return {
        p.relative_to(run): p.read_bytes()
        for p in (run / "results").rglob("*")
        if p.is_file() and not {"checkpoints", "logs", "benchmarks"} & set(p.relative_to(run).parts)
    }


def test_tiny_workflow_through_slurm_profile(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install skyhunt[slurm]")
    cfg = workflow_config()
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    write_config(local, cfg)
    write_config(cluster, cfg)
    proc = snakemake(local)
    assert proc.returncode == 0, proc.stderr[-4000:]
    profile = cluster_profile(tmp_path / "profile")
    proc = snakemake(cluster, "--profile", str(profile), timeout=3600)
    assert proc.returncode == 0, proc.stderr[-4000:]

    # (a) every job that is not a localrule went through sbatch, each once, and completed
    console = proc.stdout + proc.stderr
    ran = Counter(re.findall(r"^(?:local)?rule (\w+):$", console, flags=re.MULTILINE))
    local_rules = declared_local_rules()
    every_job = map(fields, slurm("scontrol", "-o", "show", "job").splitlines())
    jobs = [job for job in every_job if job.get("WorkDir") == str(cluster)]
    submitted = Counter(rule_of(j) for j in jobs)
    assert submitted == Counter({rule: n for rule, n in ran.items() if rule not in local_rules})
    ran_locally = set(ran) - set(submitted)
    assert ran_locally and ran_locally <= local_rules  # figures, tables, all
    assert {j["JobState"] for j in jobs} == {"COMPLETED"}

    # (b) the GPU rules asked SLURM for the GPU, and only they did
    assert GPU_RULES <= set(submitted)
    for job in jobs:
        assert asks_gpu(job) == (rule_of(job) in GPU_RULES), job

    # (c) the same outputs, byte for byte, as the local run
    a, b = outputs(local), outputs(cluster)
    assert sorted(a) == sorted(b)
    for rel, data in a.items():
        assert b[rel] == data, f"{rel} differs between the local and the SLURM run"
