"""Shared fixtures: small, fast sky configurations derived from the shipped config.yaml, and one
end-to-end run of the tiny workflow shared by every test of the session."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
import yaml

from skyhunt.config import validate_config

REPO = Path(__file__).resolve().parents[1]


def shipped_config() -> dict:
    """The validated shipped config.yaml (a fresh copy each call)."""
    with open(REPO / "config.yaml", encoding="utf-8") as f:
        return validate_config(yaml.safe_load(f))


def small_config(
    nside: int = 1024, size_deg: float = 2.0, seed: int = 7, footprint: dict | None = None
) -> dict:
    """The shipped config on a small patch at low resolution, for tests that run the sky stage.

    The patch is ``size_deg`` on a side at RA 10, Dec -1 deg unless ``footprint`` (a
    ``sky.footprint`` mapping) is given. Its RA stripes are wider than the shipped ones, so that
    each split holds cutouts although they keep the interpolation reach (14' at nside 512) from
    the edges.
    """
    cfg = shipped_config()
    cfg["seed"] = seed
    sky = cfg["sky"]
    sky["nside"] = nside
    sky["footprint"] = footprint or {
        "ra_min": 10.0,
        "ra_max": 10.0 + size_deg,
        "dec_min": -1.0,
        "dec_max": -1.0 + size_deg,
    }
    cfg["cutouts"]["splits"].update(test_max=0.3, validation_max=0.6)
    sky["margin_deg"] = 0.3
    sky["cmb"]["lmax"] = min(2000, 3 * nside - 1)
    sky["dust"]["lmax"] = min(1000, 3 * nside - 1)
    sky["halos"]["m_vir_min"] = 5e13
    # matched-filter tiles sampled to suit the coarse pixels (3.4' at nside 1024)
    cfg["mf"]["tiles"].update(core_deg=1.0, overlap_deg=0.4, pixel_arcmin=1.0)
    return validate_config(cfg)


@pytest.fixture
def sky_small() -> dict:
    return copy.deepcopy(small_config()["sky"])


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one torch thread (and the workflow gives each CNN job one)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The command that runs the repository's Snakefile in ``workdir`` on 2 cores with extra arguments."""
    snakefile = str(REPO / "Snakefile")
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        snakefile,
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]


def snakemake(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run :func:`snakemake_command` and wait for it (``timeout`` in s)."""
    return subprocess.run(snakemake_command(workdir, *args), capture_output=True, text=True, timeout=timeout)


def write_config(workdir: Path, cfg: dict) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))


def workflow_config() -> dict:
    """The small sky, with enough validation positives for the CNN and a two-stage ladder on one stage."""
    cfg = small_config()
    cfg["cutouts"]["positive"]["m_vir_min"] = 1.5e14
    cfg["cutouts"]["splits"].update(test_max=0.3, validation_max=0.6)
    cfg["cnn"]["stages"] = ["dust"]
    cfg["cnn"]["progress_bar"] = True  # into the job log, not onto the console
    cfg["cnn"]["training"].update(
        batch_size=32, ratio_stop=2, eval_every_batches=5, patience_batches=10, max_batches_per_ratio=20
    )
    # the detector on 1' pixels (mf.tiles): 16' patches, a few dozen steps
    det = cfg["detector"]
    det["patches"].update(npix=16, random_per_deg2=10.0)
    det["training"].update(batch_size=8, steps=20, eval_every_steps=10, log_every_steps=5)
    cfg["masses"]["cnn"].update(hidden=16, batch_size=8, steps=20, eval_every_steps=10, log_every_steps=5)
    # one batch of a few injections (the 2 x 2 deg patch holds them 15' apart)
    cfg["selection"].update(injections=8, batches=1, study_batches=1)
    # vetting: every halo of the small sky (>= 5e13 M_sun) is real, so that each stripe holds both classes
    cfg["vetting"]["labels"].update(m_vir_min=5e13, z_min=0.0)
    cfg["vetting"]["cnn"].update(
        architecture="small", batch_size=8, steps=20, eval_every_steps=10, log_every_steps=5
    )
    cfg["vetting"]["classical"]["max_iter"] = 20
    cfg["optical"].update(max_candidates=4, npix=64)  # the multiwave cutouts (issue 18), a few small ones
    cfg["xray"].update(max_candidates=4)
    # the Kosiba target (issue 18): 2 seeds of a tiny network, a handful of steps
    cfg["kosiba"].update(max_candidates=60, seeds=2)
    cfg["kosiba"]["cnn"].update(
        filters=[8], dense=8, batch_size=8, steps=4, eval_every_steps=2, log_every_steps=2
    )
    return cfg


def console_log(workdir: Path, step: int = 0) -> Path:
    """What Snakemake printed (stdout and stderr) in the run ``step`` of a :class:`Background` chain."""
    return workdir / ("console.log" if step == 0 else f"console{step}.log")


def done_file(workdir: Path) -> Path:
    """Written when the :class:`Background` chain in ``workdir`` has ended: empty when every run
    succeeded, else what failed."""
    return workdir.with_name(workdir.name + ".done")


def wait_for(workdir: Path, timeout: float = 3600) -> Path:
    """``workdir`` once its :class:`Background` chain has ended (a test failure if it failed).

    It polls :func:`done_file`, so any pytest process (an xdist worker too) can wait for a chain
    that another one started."""
    done = done_file(workdir)
    deadline = time.monotonic() + timeout
    while not done.exists():
        assert time.monotonic() < deadline, f"{workdir}: not done after {timeout} s"
        time.sleep(1.0)
    error = done.read_text()
    assert not error, error
    return workdir


class Background:
    """Snakemake runs in ``workdir``, made one after another by a thread of the pytest process that
    starts them, so that they use the cores that the tests leave idle.

    The thread waits for the chains ``after`` (their workdirs), then ``prepare(workdir)`` writes the
    directory and returns each run's arguments. Run ``i`` prints into :func:`console_log`. When every
    run has succeeded, ``workdir`` is copied to each of ``copies`` (before any test can change it),
    and last the thread writes :func:`done_file`."""

    def __init__(self, workdir: Path, prepare, after: tuple[Path, ...] = (), copies: tuple[Path, ...] = ()):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.stopped = False
        # Snakemake gets a copy of the environment taken here, in the main thread: a fork that
        # inherits the C ``environ`` while a test in the main thread sets a variable (Lightning's
        # ``seed_everything`` sets PL_GLOBAL_SEED) can exec with a torn array, which failed a CI
        # run with "OSError: [Errno 14] Bad address"
        self.env = dict(os.environ)
        self.thread = threading.Thread(target=self._run, args=(prepare, after, copies), daemon=True)
        self.thread.start()

    def _run(self, prepare, after, copies) -> None:
        error = ""
        try:
            for other in after:
                wait_for(other)
            for step, args in enumerate(prepare(self.workdir)):
                log = console_log(self.workdir, step)
                with open(log, "w", encoding="utf-8") as out:
                    if self.stopped:
                        raise RuntimeError("stopped at the end of the test session")
                    self.proc = subprocess.Popen(
                        snakemake_command(self.workdir, *args),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=self.env,
                    )
                    code = self.proc.wait()
                if code:
                    error = f"snakemake {' '.join(args)} in {self.workdir} exited with {code}:\n"
                    error += log.read_text()[-4000:]
                    break
            else:
                for copy_to in copies:
                    shutil.copytree(self.workdir, copy_to, symlinks=True)
        except BaseException:  # reported to the test that waits
            error = traceback.format_exc()
        partial = done_file(self.workdir).with_suffix(".partial")
        partial.write_text(error)
        partial.replace(done_file(self.workdir))

    def stop(self) -> None:
        """Kill the run in progress and start no other."""
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


def kosiba_prepare(workdir: Path) -> list[list[str]]:
    """``snakemake kosiba`` in a copy of run a (its config: 2 seeds, a handful of steps)."""
    return [["kosiba"]]


def transfer_prepare(realistic: Path):
    """``snakemake transfer`` (after a dry run) in a copy of run a, on the realistic run as the target."""

    def prepare(workdir: Path) -> list[list[str]]:
        cfg = yaml.safe_load((workdir / "config.yaml").read_text())
        cfg["transfer"] = tiny_transfer(
            "realistic", str(realistic / "results"), str(realistic / "config.yaml")
        )
        (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
        return [["transfer", "-n"], ["transfer"]]

    return prepare


#: the transfer study of the tests: N labelled target positives and replicates
TRANSFER_N, TRANSFER_SEEDS = 3, 3


def tiny_transfer(name: str, results_dir: str, configfile: str) -> dict:
    """Config section ``transfer`` of the tests: one target run, N = TRANSFER_N, a few steps."""
    return {
        "pairs": [{"name": name, "results_dir": results_dir, "configfiles": [configfile]}],
        "n_labelled": [TRANSFER_N],
        "seeds": TRANSFER_SEEDS,
        "eval_every_steps": 5,
        "log_every_steps": 5,
        "fine_tune": {"steps": 10, "lr_factor": 0.1},
        "scratch": {"steps": 10},
    }


def tiny_deepcee() -> dict:
    """Config section ``deepcee`` of the tests: tiny fields, a few detector steps."""
    return {
        "clusters": {"m500c_min": 3e13, "z_min": 0.05, "z_max": 0.8},
        "fields": {
            "npix": 32,
            "offset_arcmin": 0.4,
            "cluster_fields": {"train": 4, "validation": 2, "test": 3},
            "random_fields": {"train": 1, "validation": 1, "test": 1},
        },
        "detector": {"training": {"batch_size": 2, "steps": 4, "eval_every_steps": 2, "log_every_steps": 1}},
    }


def deepcee_prepare(run_a: Path):
    """``snakemake deepcee`` on a copy of run a's sky (halos and galaxies), tiny fields, a few steps."""

    def prepare(workdir: Path) -> list[list[str]]:
        cfg = yaml.safe_load((run_a / "config.yaml").read_text())
        sky = workdir / cfg["results_dir"] / "sky"
        sky.mkdir(parents=True)
        for name in ("halos.parquet", "galaxies.parquet"):
            shutil.copy2(run_a / cfg["results_dir"] / "sky" / name, sky / name)
        cfg["deepcee"] = tiny_deepcee()
        (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
        return [["deepcee", "--rerun-triggers", "mtime"]]

    return prepare


def config_prepare(cfg: dict, *args: str):
    """A fresh run of ``cfg`` to the targets ``args`` (none: the default target)."""

    def prepare(workdir: Path) -> list[list[str]]:
        write_config(workdir, cfg)
        return [list(args)]

    return prepare


#: the session fixtures that wait for a shared run (:func:`tiny_runs`), in the order their runs end
SHARED = ("two_runs", "report", "realistic_run", "kosiba_run", "deepcee_run", "transfer_run")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """The tests that wait for a shared run form one xdist group (``--dist loadgroup``), first (with
    ``--no-loadscope-reorder``), in the order their runs end; the others are grouped by module (its
    module fixtures are made once).

    So one worker takes the shared runs' tests while the other starts on the rest, and no two
    tests that use run a run at once."""

    def rank(item) -> int:
        return max((i for i, name in enumerate(SHARED) if name in item.fixturenames), default=-1)

    for item in items:
        item.add_marker(pytest.mark.xdist_group("shared-runs" if rank(item) >= 0 else item.module.__name__))
    items.sort(key=lambda item: rank(item) if rank(item) >= 0 else len(SHARED))


@pytest.fixture(scope="session", autouse=True)
def tiny_runs(request, tmp_path_factory) -> dict[str, Path]:
    """The session's shared end-to-end runs, started in the background when the session starts, by
    name: ``run_a`` and ``run_b`` (:func:`two_runs`), ``realistic`` (:func:`realistic_run`) and the
    studies that start from them (``kosiba``, ``transfer``, ``deepcee``). Wait for one with
    :func:`wait_for`.

    Only the runs that a collected test needs are started, once per session: under pytest-xdist
    the first worker to claim them starts them and the others read where they are."""
    needed = set().union(*(item.fixturenames for item in request.session.items))
    xdist = "PYTEST_XDIST_WORKER" in os.environ
    root = tmp_path_factory.getbasetemp().parent if xdist else tmp_path_factory.getbasetemp()
    registry = root / "tiny_runs.json"
    try:
        (root / "tiny_runs.claimed").mkdir()
    except FileExistsError:  # another worker starts them
        while not registry.exists():
            time.sleep(0.2)
        yield {name: Path(path) for name, path in json.loads(registry.read_text()).items()}
        return
    dirs = {name: tmp_path_factory.mktemp(name) / "run" for name in ("kosiba", "transfer", "deepcee")}
    wanted = {name: f"{name}_run" in needed for name in dirs}
    runs: dict[str, Background] = {}
    if "two_runs" in needed or any(wanted.values()):
        copies = tuple(dirs[name] for name in ("kosiba", "transfer") if wanted[name])
        for name in ("run_a", "run_b"):
            runs[name] = Background(
                tmp_path_factory.mktemp(name), config_prepare(workflow_config()), copies=copies
            )
            copies = ()
    if "realistic_run" in needed or wanted["transfer"]:
        cfg = realistic_config()
        runs["realistic"] = Background(
            tmp_path_factory.mktemp("realistic"), config_prepare(cfg, *realistic_targets(cfg))
        )
    # the studies that start from a tiny run, once it is done
    a = runs.get("run_a")
    if wanted["kosiba"]:
        runs["kosiba"] = Background(dirs["kosiba"], kosiba_prepare, after=(a.workdir,))
    if wanted["transfer"]:
        realistic = runs["realistic"].workdir
        runs["transfer"] = Background(
            dirs["transfer"], transfer_prepare(realistic), after=(a.workdir, realistic)
        )
    if wanted["deepcee"]:
        runs["deepcee"] = Background(dirs["deepcee"], deepcee_prepare(a.workdir), after=(a.workdir,))
    partial = registry.with_suffix(".partial")
    partial.write_text(json.dumps({name: str(run.workdir) for name, run in runs.items()}))
    partial.replace(registry)
    yield {name: run.workdir for name, run in runs.items()}
    # under xdist another worker may still wait for a run; alone, nothing does
    for run in runs.values():
        if not xdist:
            run.stop()
        run.thread.join()


@pytest.fixture(scope="session")
def two_runs(tiny_runs):
    """The tiny workflow (:func:`workflow_config`) run to its default target in two fresh directories.

    Returns ``(config, [run_a, run_b])``. Every test of the session shares these two runs: a test
    may add files to run a (the report) or remake one of its outputs, but must leave every output
    of ``rule all`` as the run made it, and must not change run b (dry runs are fine). What
    Snakemake printed is kept in ``console.log`` beside each run's config.
    """
    return workflow_config(), [wait_for(tiny_runs[name]) for name in ("run_a", "run_b")]


def realistic_config() -> dict:
    """:func:`workflow_config` with the realistic instrument and cluster physics of
    ``workflow/presets/spt3g.yaml`` all on: beams, correlated red noise, a declination depth
    map, the scan filter, Y-M scatter, relativistic tSZ, sources found in the maps; on a
    two-stage noise ladder and a short grid of the MF masses' Q."""
    cfg = workflow_config()
    preset = yaml.safe_load((REPO / "workflow" / "presets" / "spt3g.yaml").read_text())
    for band, real in zip(cfg["sky"]["bands"], preset["sky"]["bands"], strict=True):
        band.update({k: real[k] for k in ("noise_uk_arcmin", "beam_fwhm_arcmin", "ell_knee", "alpha_knee")})
    for key in ("noise", "scan_filter", "halos"):
        cfg["sky"][key].update(preset["sky"][key])
    cfg["sky"]["noise"]["red_ell_min"] = 200.0  # the tiny run's 1.8 deg tiles (config check)
    cfg["mf"].update(noise=preset["mf"]["noise"], noise_ell_bin=800.0)  # wide bins for 1' tiles
    cfg["mf"]["point_sources"].update(preset["mf"]["point_sources"])
    # a two-stage ladder (the primary CMB with the tSZ, then the rest) and a short Q grid, as
    # the instrument acts on every stage and scale alike
    first, *rest = cfg["sky"]["stages"]
    cfg["sky"]["stages"] = [first, {"name": rest[-1]["name"], "add": [c for s in rest for c in s["add"]]}]
    cfg["masses"]["q_theta500_arcmin"] = [0.7, 1.4, 2.4, 4.0, 8.0]
    return validate_config(cfg)


def realistic_targets(cfg: dict) -> list[str]:
    """The targets the instrument changes: the sky, the MF of every stage, Table 1 (with the CNN
    and the detector), the noise ladder (for ``compare``) and the MF masses (their Q sees the
    beams, noise and scan filter). The rules past these (figures, catalogue metrics) are the same
    code as in :func:`two_runs`."""
    stage = cfg["cnn"]["stages"][-1]
    return [
        "sky",
        "mf",
        "results/tables/table1.csv",
        "results/tables/noise_components.csv",
        f"results/masses/mf_{stage}_metrics.json",
    ]


@pytest.fixture(scope="session")
def realistic_run(tiny_runs) -> tuple[dict, Path]:
    """The tiny workflow with :func:`realistic_config`, run once to :func:`realistic_targets`."""
    return realistic_config(), wait_for(tiny_runs["realistic"])


@pytest.fixture(scope="session")
def report(two_runs) -> Path:
    """``results/report.html`` of run a, built with ``snakemake --report`` (as ``make run`` does)."""
    _, (a, _) = two_runs
    proc = snakemake(a, "--report", "results/report.html")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return a / "results" / "report.html"
