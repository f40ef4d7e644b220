"""Editing one config key reruns exactly the jobs that read it, and their downstream jobs.

Snakemake reruns a job when its params change, so a rule that took a whole config section would
rerun on an unrelated edit. For each key of a sample, the dry-run plan after the edit must equal
the plan of forcing the jobs that read the key (``--forcerun``, which adds their downstream jobs),
on a finished run of the small workflow. That plan is worked out from one ``snakemake --dag``
(the readers' jobs and all downstream of them), checked against ``--forcerun`` itself for a few keys.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from .conftest import snakemake

#: key path -> (new value, the jobs that read the key: rule names, or output files of one job)
EDITS = {
    ("cnn", "progress_bar"): (False, []),
    ("sky", "sehgal2010", "timeout_s"): (5.0, []),
    ("evaluation", "halos", "mass_bin_dex"): (0.3, ["completeness_mass", "selection_function"]),
    ("evaluation", "halos", "redshift_bin"): (0.2, ["completeness_redshift", "selection_function"]),
    ("evaluation", "bootstrap", "samples"): (50, ["table1", "mf_mass_metrics", "cnn_mass_metrics"]),
    ("evaluation", "learned", "l2"): (
        0.5,
        ["ensembles", "catalogue_ensembles", "catalogue_metrics", "catalogue_map"],
    ),
    ("sky", "bands", 0, "noise_uk_arcmin"): (3.0, ["results/sky/components/noise_090.fits"]),
    ("sky", "bands", 2, "beam_fwhm_arcmin"): (1.0, ["cmb_map", "sz_maps", "source_maps", "dust_map"]),
    ("sky", "dust", "beta"): (1.5, ["dust_map"]),
    ("sky", "halos", "y_scatter_ln"): (0.2, ["halos"]),
    ("sky", "cmb", "lmax"): (2500, ["cmb_spectrum"]),
    # with the filter off (the default), its parameters are read by no job
    ("sky", "scan_filter", "taper_ell"): (300.0, []),
    ("mf", "detection", "snr_min"): (4.0, ["matched_filter", "inject_mf"]),
    ("mf", "matching", "radius_arcmin"): (
        1.5,
        ["match_mf", "mf_masses", "detector_cutout_scores", "inject_classify"],
    ),
    ("cutouts", "splits", "guard_arcmin"): (
        1.0,
        [
            "cutouts",
            "detector_objects",
            "train_detector",
            "detect",
            "catalogue_mf",
            "mf_mass_metrics",
            "mass_bias",
            "vetting_data",
            "catalogue_vetted",
            "inject_detect",
        ],
    ),
    ("cnn", "optimizer", "lr"): (0.02, ["train_cnn"]),
    ("evaluation", "edge_effect", "angles"): (4, ["edge_effect_scores"]),
    ("detector", "training", "lr"): (1e-3, ["train_detector"]),
    ("masses", "cnn", "lr"): (1e-3, ["train_cnn_mass"]),
    ("vetting", "cnn", "lr"): (0.05, ["train_vetter"]),
    ("vetting", "classical", "max_iter"): (10, ["vet_candidates"]),
    ("masses", "metrics", "snr_min"): (4.0, ["mf_mass_metrics", "mass_bias"]),
    ("detector", "peaks", "prob_min"): (0.1, ["detect", "inject_detect"]),
    ("detector", "dusty_flux_min_mjy"): (8.0, ["detector_objects"]),
    ("selection", "min_per_bin"): (3, ["selection_completeness"]),
    ("selection", "mass_limit", "level"): (0.8, ["mass_limit"]),
}


def planned(workdir, *args) -> dict[str, int]:
    """Rule -> number of jobs of a dry run of the default target."""
    proc = snakemake(workdir, "-n", "--quiet", "rules", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs, table = {}, False
    for line in (proc.stdout + proc.stderr).splitlines():
        words = line.split()
        if words[:2] == ["job", "count"]:
            table = True
        elif table and len(words) == 2 and words[1].isdigit() and words[0] not in ("total", "all"):
            jobs[words[0]] = int(words[1])
    return jobs


def edited(cfg: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(cfg)
    node = out
    for key in path[:-1]:
        node = node[key]
    assert node[path[-1]] != value, f"{path}: the edit must change the value"
    node[path[-1]] = value
    return out


@pytest.mark.slow
def test_unchanged_config_plans_nothing(two_runs):
    _, (_, workdir) = two_runs
    assert planned(workdir) == {}


#: readers above named by an output file: their job's label in ``snakemake --dag``
JOB_LABELS = {"results/sky/components/noise_090.fits": "noise_map\\nband: 090"}

#: keys whose readers are also forced with ``--forcerun``, to check :func:`forced` against Snakemake
FORCE_CHECKED = [
    ("sky", "bands", 0, "noise_uk_arcmin"),
    ("evaluation", "learned", "l2"),
    ("cutouts", "splits", "guard_arcmin"),
]


def dag(workdir) -> tuple[dict[int, str], dict[int, set[int]]]:
    """Every job of the default target's DAG (``snakemake --dag``, up-to-date jobs included): its
    label (rule, then wildcards, joined by a literal ``\\n``) and the jobs that take its outputs."""
    proc = snakemake(workdir, "--dag")
    assert proc.returncode == 0, proc.stderr[-3000:]
    labels = {int(i): label for i, label in re.findall(r'^\s*(\d+)\[label = "([^"]*)"', proc.stdout, re.M)}
    takers: dict[int, set[int]] = {i: set() for i in labels}
    for a, b in re.findall(r"^\s*(\d+) -> (\d+)", proc.stdout, re.M):
        takers[int(a)].add(int(b))
    assert labels and any(takers.values()), proc.stdout[:2000]
    return labels, takers


#: rules whose outputs are temp(): gone in a finished run, so remade for any job that takes them
TEMP_RULES = {"inject_mf"}


def forced(graph, readers: list[str]) -> dict[str, int]:
    """The plan of ``--forcerun readers`` on a finished run, as :func:`planned` counts it: the
    readers' jobs and every job downstream of them, with the :data:`TEMP_RULES` jobs whose
    outputs those take (and so theirs downstream)."""
    labels, takers = graph
    rule = {i: label.split("\\n")[0] for i, label in labels.items()}
    wanted = {JOB_LABELS.get(r, r) for r in readers}
    todo = [i for i, label in labels.items() if label in wanted or rule[i] in wanted]
    seen: set[int] = set()
    while todo:
        job = todo.pop()
        if job not in seen:
            seen.add(job)
            todo.extend(takers[job])
            todo.extend(i for i in labels if rule[i] in TEMP_RULES and job in takers[i])
    plan = Counter(rule[i] for i in seen)
    plan.pop("all", None)
    return dict(plan)


@pytest.fixture(scope="module")
def plans(two_runs, tmp_path_factory) -> dict[tuple, dict[str, int]]:
    """The dry-run plans of run b that the tests below compare, two at a time (dry runs only
    read the run): ``(path, "edit")`` after the edit of each key, ``(path, "force")`` when
    forcing the jobs that read it (for :data:`FORCE_CHECKED`), and ``"dag"`` the DAG."""
    cfg, (_, workdir) = two_runs
    tmp = tmp_path_factory.mktemp("edits")
    runs = {}
    for i, (path, (value, readers)) in enumerate(EDITS.items()):
        override = tmp / f"edit{i}.yaml"
        override.write_text(yaml.safe_dump(edited(cfg, path, value)))
        runs[path, "edit"] = ("--configfile", str(override))
        if path in FORCE_CHECKED:
            runs[path, "force"] = ("--forcerun", *readers)
    with ThreadPoolExecutor(max_workers=2) as pool:
        graph = pool.submit(dag, workdir)
        out = dict(zip(runs, pool.map(lambda args: planned(workdir, *args), runs.values()), strict=True))
        out["dag"] = graph.result()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", FORCE_CHECKED, ids=[".".join(map(str, p)) for p in FORCE_CHECKED])
def test_the_downstream_of_the_dag_is_what_forcerun_plans(plans, path):
    expected = forced(plans["dag"], EDITS[path][1])
    assert expected and plans[path, "force"] == expected


@pytest.mark.slow
@pytest.mark.parametrize("path", list(EDITS), ids=[".".join(map(str, p)) for p in EDITS])
def test_a_key_reruns_only_its_readers_and_downstream(plans, path):
    assert plans[path, "edit"] == forced(plans["dag"], EDITS[path][1])
