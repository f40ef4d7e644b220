"""Code structure rules that review would otherwise have to re-check: private names stay in their module."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "skyhunt"


def _modules():
    return sorted(SRC.rglob("*.py"))


def test_no_private_name_is_imported_from_another_module():
    """A helper used outside its module is public (in the right home), not imported as ``_name``."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("skyhunt"):
                offenders += [
                    f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert not offenders


def test_no_assert_validates_anything_in_src():
    """``assert`` vanishes under ``python -O``: input is checked with exceptions that name the file."""
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [
            f"{path.relative_to(SRC)}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Assert)
        ]
    assert not offenders


def test_every_units_table_has_one_name():
    """One ``<TABLE>_UNITS`` constant per table: no two modules define the same name for different tables."""
    defined = {}
    for path in _modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            for name in (t.id for t in targets if isinstance(t, ast.Name) and t.id.endswith("_UNITS")):
                defined.setdefault(name, []).append(str(path.relative_to(SRC)))
    assert {n: where for n, where in defined.items() if len(where) > 1} == {}


WORKFLOW = SRC.parents[1] / "workflow"


def test_every_rule_runs_its_run_rule_step_through_run_step():
    """Rule ``x`` runs ``workflow/scripts/[figures/]x.py``, which calls ``run_step(snakemake, run_x)``
    (so every entry point is named ``run_<rule>`` and gets the rule's names as keyword arguments)."""
    scripts = {}
    for path in sorted((WORKFLOW / "rules").glob("*.smk")):
        text = path.read_text(encoding="utf-8")
        for rule, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", text, flags=re.S | re.M):
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w/]+)\.py"', body)
            if script:
                scripts[rule] = script.group(1)
    assert len(scripts) > 30
    wrong = {rule: s for rule, s in scripts.items() if Path(s).name != rule}
    assert wrong == {}, "each rule's script is named after the rule"
    for rule, script in scripts.items():
        code = (WORKFLOW / "scripts" / f"{script}.py").read_text(encoding="utf-8")
        calls = re.findall(r"run_step\(snakemake, (?:functools\.partial\()?(\w+)", code)
        assert calls == [f"run_{rule}"], f"{script}.py: expected run_step(snakemake, run_{rule}), got {calls}"


def test_jobs_that_run_no_network_import_no_torch():
    """The injections into the maps, the selection function and mass limit, the detector's
    objects and the vetting table and catalogues are CPU jobs: their modules must not pull in
    torch (~1 s of start-up per job); only the functions that load a network import it."""
    modules = "skyhunt.selection.pipeline, skyhunt.detector.pipeline, skyhunt.vetting.pipeline"
    code = f"import sys, {modules}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_snakemake_start_imports_no_healpy_or_scipy():
    """Every Snakemake invocation (each dry run, run and report) parses the workflow, which imports
    the config layer and the helpers of workflow/rules/common.smk: they must not load healpy (with
    the matplotlib and astropy it imports, ~1 s) or scipy; the functions that need them import them.
    """
    common = (WORKFLOW / "rules" / "common.smk").read_text(encoding="utf-8")
    modules = sorted(set(re.findall(r"^from (skyhunt[\w.]*) import", common, flags=re.M)))
    assert "skyhunt.config" in modules and len(modules) >= 3
    heavy = ("healpy", "scipy", "matplotlib", "astropy", "pandas", "torch")
    code = f"import sys, {', '.join(modules)}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [], f"{modules} import {proc.stdout.strip()}"
