"""The conda environment file is generated from, and agrees with, the pins in pyproject.toml."""

import tomllib

from skyhunt.envs import REPO, conda_environment


def test_conda_env_file_is_up_to_date():
    committed = (REPO / "envs" / "skyhunt.yaml").read_text()
    assert committed == conda_environment(), "run `python -m skyhunt.envs` after changing a pin"


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert all("==" in d for d in deps), deps
    assert "torch==2.13.0" in deps
    assert "snakemake-executor-plugin-slurm==2.8.0" in deps
