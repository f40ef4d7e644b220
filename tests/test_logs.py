"""A job's output goes to its log file; the console gets one line per warning or error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from skyhunt.logs import run_step

JOB = textwrap.dedent(
    """
    import logging, os, sys
    from skyhunt.io import InputFileError
    from skyhunt.logs import log_to

    log_to(sys.argv[1])
    print("Epoch 3: 50%|#####     | 5/10 [00:01<00:01, 4.2it/s]", file=sys.stderr)
    print("plain print")
    os.write(2, b"written to file descriptor 2\\n")
    logging.getLogger("skyhunt.test").info("an info line")
    logging.getLogger("skyhunt.test").warning("a warning")
    raise InputFileError("results/cutouts/dust.npy: corrupt")
    """
)


def test_job_output_goes_to_its_log_and_only_warnings_reach_the_console(tmp_path):
    log = tmp_path / "job.log"
    proc = subprocess.run([sys.executable, "-c", JOB, str(log)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    console = proc.stdout + proc.stderr
    assert console.splitlines() == [
        "skyhunt.test WARNING: a warning",
        "skyhunt ERROR: InputFileError: results/cutouts/dust.npy: corrupt",
    ]
    text = log.read_text()
    for line in ("4.2it/s", "plain print", "written to file descriptor 2", "an info line", "a warning"):
        assert line in text
    assert "Traceback" in text and "InputFileError: results/cutouts/dust.npy: corrupt" in text


def fake_snakemake(tmp_path, **kinds):
    parts = {k: dict(kinds.get(k, {})) for k in ("input", "output", "params", "wildcards")}  # named items
    return SimpleNamespace(rule="demo", log=[str(tmp_path / "demo.log")], threads=3, **parts)


def step(*, halos, table, seed, threads):
    step.called = dict(halos=halos, table=table, seed=seed, threads=threads)


@pytest.fixture
def keep_fds():
    """run_step redirects file descriptors 1 and 2 to the log: give them back afterwards."""
    saved = os.dup(1), os.dup(2)
    yield
    for fd, copy in zip((1, 2), saved, strict=True):
        os.dup2(copy, fd)
        os.close(copy)


def test_run_step_passes_the_rules_names(tmp_path, keep_fds):
    smk = fake_snakemake(
        tmp_path,
        input={"halos": "h.parquet"},
        output={"table": "t.parquet"},
        params={"seed": 7},
        wildcards={"stage": "dust"},
    )
    run_step(smk, step)
    assert step.called == {"halos": "h.parquet", "table": "t.parquet", "seed": 7, "threads": 3}


def test_run_step_names_a_mismatch(tmp_path, keep_fds):
    smk = fake_snakemake(
        tmp_path, input={"halo": "h.parquet"}, output={"table": "t.parquet"}, params={"seed": 7}
    )
    with pytest.raises(
        TypeError, match=r"rule demo does not match .*\['halo'\] that the step does not take.*\['halos'\]"
    ):
        run_step(smk, step)
