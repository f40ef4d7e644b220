"""The SLURM profile (workflow/profiles/slurm): its GPU entries, and opt-in, a run on a real scheduler.

The run is skipped unless ``SKYHUNT_SLURM_TEST=1`` and ``sbatch`` is on PATH, e.g. on the
single-node cluster of ``tests/slurm/start_cluster.sh`` (README, "Three ways to run it", item 2).
It uses the shipped profile with only what a site sets changed (the user's default account, the
cluster's default partition for the CPU and the GPU rules) and each request capped at the node's
CPUs and at one CPU's share of its memory, since the profile's requests are sized for the paper's
octant. It needs SLURM
accounting (slurmdbd): what it checks comes from ``sacct``.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, snakemake, tiny_deepcee, tiny_transfer, workflow_config, write_config

RULES = REPO / "workflow" / "rules"
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"


def rule_blocks() -> dict[str, str]:
    """The text of every rule in workflow/rules/*.smk, by rule name."""
    blocks = {}
    for smk in sorted(RULES.glob("*.smk")):
        parts = re.split(r"^rule (\w+):$", smk.read_text(), flags=re.MULTILINE)
        blocks.update(zip(parts[1::2], parts[2::2], strict=True))
    return blocks


def gpu_rules() -> set[str]:
    """The rules whose resources ask for a GPU (``gpu=1``)."""
    return {rule for rule, text in rule_blocks().items() if re.search(r"^\s+gpu=\d+,$", text, re.MULTILINE)}


def declared_local_rules() -> set[str]:
    """The rules marked ``localrule: True``, and the target rule ``all``."""
    local = re.compile(r"^\s+localrule: True$", re.MULTILINE)
    return {"all"} | {rule for rule, text in rule_blocks().items() if local.search(text)}


def test_profile_sends_every_gpu_rule_to_the_gpu_partition():
    profile = yaml.safe_load(PROFILE.read_text())["set-resources"]
    rules = gpu_rules()
    assert {"train_cnn", "score_cnn", "train_detector", "detect", "train_cnn_mass", "cnn_masses"} <= rules
    for rule in rules:
        assert profile.get(rule, {}).get("slurm_partition") == "GPU_PARTITION", rule
        assert profile[rule].get("gpu") == 1, rule
    assert not rules & declared_local_rules()


def slurm(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def fields(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one line of ``scontrol -o`` output."""
    return dict(re.findall(r"(\w+)=(\S*)", line))


#: What sacct reports of each job; SubmitLine last, since it may hold the delimiter.
SACCT = ("JobIDRaw", "Comment", "WorkDir", "Account", "State", "ReqTRES", "SubmitLine")


def sacct_jobs(since: datetime, workdir: Path) -> list[dict[str, str]]:
    """The jobs (no steps) submitted since ``since`` whose working directory is ``workdir``."""
    out = slurm("sacct", "-X", "-n", "-P", "--starttime", f"{since:%Y-%m-%dT%H:%M:%S}", "-o", ",".join(SACCT))
    jobs = [dict(zip(SACCT, line.split("|", len(SACCT) - 1), strict=True)) for line in out.splitlines()]
    return [job for job in jobs if job["WorkDir"] == str(workdir)]


def rule_of(job: dict[str, str]) -> str:
    """The rule of a job the executor plugin submitted (its comment: rule_<rule>[_wildcards_...])."""
    return job["Comment"].removeprefix("rule_").split("_wildcards_")[0]


def asks_gpu(job: dict[str, str]) -> bool:
    """Whether the job's requested TRES hold one GPU."""
    return re.search(r"(^|,)gres/gpu=1(,|$)", job["ReqTRES"]) is not None


def cluster_profile(dest: Path, account: str) -> Path:
    """The shipped SLURM profile set up for the cluster on PATH and ``account``, written to ``dest``."""
    partition = next(p for p in slurm("sinfo", "-h", "-o", "%P").split() if p.endswith("*")).rstrip("*")
    nodes = [fields(line) for line in slurm("scontrol", "-o", "show", "node").splitlines()]
    cpus = min(int(n["CPUTot"]) for n in nodes)
    mem_mb = min(int(n["RealMemory"]) for n in nodes) // cpus  # as many jobs at once as CPUs
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"].update(slurm_account=account, slurm_partition=partition)
    for res in profile["set-resources"].values():
        if "slurm_partition" in res:
            res["slurm_partition"] = partition
        if "mem_mb" in res:
            res["mem_mb"] = min(res["mem_mb"], mem_mb)
        if "cpus_per_task" in res:
            res["cpus_per_task"] = min(res["cpus_per_task"], cpus)
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile["set-threads"].items()}
    # poll soon after each submission: the tiny jobs take seconds (the plugin's default is 40 s)
    profile.update({"slurm-init-seconds-before-status-checks": 5, "slurm-keep-successful-logs": True})
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def slurm_config() -> dict:
    """The tiny configuration with a Deep-CEE section and this run itself as the transfer target."""
    cfg = workflow_config()
    cfg["deepcee"] = tiny_deepcee()
    cfg["transfer"] = tiny_transfer("self", cfg["results_dir"], "config.yaml")
    return cfg


def invocations(cfg: dict) -> list[list[str]]:
    """The targets of the two Snakemake runs: every GPU rule, each kind of CPU rule, seven local rules.

    The first run makes the detector, the CNN (training, scoring, edge-effect scores), the CNN
    mass network, the vetter, the selection function's injected batch (its matched filter,
    detector and classifier jobs), one Kosiba network and the Deep-CEE detector on one stage,
    and the matched filter's masses on it: not the default target, which adds figures and
    tables (local rules) and no other kind of request. The second run is the transfer study's
    two GPU rules, with this run as its own target survey: a transfer pair counts only once
    its cutout index exists (``workflow/rules/common.smk``).
    """
    res, stage = cfg["results_dir"], cfg["cnn"]["stages"][-1]
    pair = cfg["transfer"]["pairs"][0]["name"]
    n, mode = cfg["transfer"]["n_labelled"][0], "fine_tune"
    return [
        [
            f"{res}/cnn/{stage}/scores.parquet",
            "edge_effect_scores",
            "detect",
            "cnn_mass_metrics",
            "mf_mass_metrics",
            f"{res}/vetting/{stage}/scores.parquet",
            f"{res}/selection/injections/batch_0.parquet",
            f"{res}/selection/injections/cutouts_0.parquet",
            f"{res}/kosiba/all_aug/scores.parquet",
            f"{res}/deepcee/detections.parquet",
        ],
        [f"{res}/transfer/{pair}/zero_shot.parquet", f"{res}/transfer/{pair}/{mode}/n{n}_s0.parquet"],
    ]


def outputs(run: Path) -> dict[Path, bytes]:
    """The run's outputs, without job logs, benchmark tables (times) and the trainers' scratch.

    The scratch is every ``*checkpoints`` folder (``checkpoints``, and the transfer study's
    ``n<N>_s<seed>_checkpoints``): Lightning's checkpoints hold the absolute path of the folder.
    """
    return {
        p.relative_to(run): p.read_bytes()
        for p in (run / "results").rglob("*")
        if p.is_file()
        and not any(
            part.endswith("checkpoints") or part in ("logs", "benchmarks")
            for part in p.relative_to(run).parts
        )
    }


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SKYHUNT_SLURM_TEST") != "1", reason="set SKYHUNT_SLURM_TEST=1 to run")
@pytest.mark.skipif(shutil.which("sbatch") is None, reason="no sbatch on PATH (no SLURM cluster)")
def test_tiny_workflow_through_slurm_profile(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install skyhunt[slurm]")
    user = getpass.getuser()
    account = slurm("sacctmgr", "-n", "-P", "list", "user", user, "format=defaultaccount").strip()
    assert account, f"no SLURM account for {user} (sacctmgr): is slurmdbd running?"
    cfg = slurm_config()
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    write_config(local, cfg)
    write_config(cluster, cfg)
    profile = cluster_profile(tmp_path / "profile", account)
    # the local run with the profile's threads: torch's CPU results depend on the thread count
    threads = yaml.safe_load((profile / "config.yaml").read_text())["set-threads"]
    for targets in invocations(cfg):
        proc = snakemake(
            local, *targets, "--set-threads", *(f"{r}={n}" for r, n in threads.items()), timeout=1800
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
    since = datetime.now() - timedelta(minutes=1)
    printed = ""
    for step, targets in enumerate(invocations(cfg)):
        proc = snakemake(cluster, "--profile", str(profile), *targets, timeout=3600)
        printed += proc.stdout + proc.stderr
        (tmp_path / f"cluster{step}.log").write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 0, proc.stderr[-4000:]

    # (a) every job that is not a localrule went through sbatch, each once, and completed
    ran = Counter(re.findall(r"^(?:local)?rule (\w+):$", printed, flags=re.MULTILINE))
    jobs = sacct_jobs(since, cluster)
    submitted = Counter(rule_of(j) for j in jobs)
    assert submitted == Counter({rule: n for rule, n in ran.items() if rule not in declared_local_rules()})
    ran_locally = set(ran) - set(submitted)
    # catalogue_*, ensembles, detector_cutout_scores and the *_mass_metrics
    assert ran_locally and ran_locally <= declared_local_rules()
    for job in jobs:
        assert job["SubmitLine"].startswith("sbatch "), job
        assert (job["State"], job["Account"]) == ("COMPLETED", account), job

    # (b) the GPU rules asked SLURM for the GPU, and only they did
    assert gpu_rules() <= set(submitted)
    for job in jobs:
        assert asks_gpu(job) == (rule_of(job) in gpu_rules()), job

    # (c) the same outputs, byte for byte, as the local run
    a, b = outputs(local), outputs(cluster)
    assert sorted(a) == sorted(b)
    for rel, data in a.items():
        assert b[rel] == data, f"{rel} differs between the local and the SLURM run"
