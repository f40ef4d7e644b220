"""The code base stays lint-clean: ruff, snakefmt and ``snakemake --lint`` report nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import REPO

BIN = Path(sys.executable).parent


def run(*cmd: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean():
    proc = run(str(BIN / "ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rule_files_are_formatted_with_snakefmt():
    files = [
        "Snakefile",
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow" / "rules").glob("*.smk")),
    ]
    proc = run(str(BIN / "snakefmt"), "--check", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_reports_nothing(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    proc = run(
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--lint", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr
