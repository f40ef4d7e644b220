# Two entry points for a fresh machine (Python 3.11 + pip, no conda, no GPU):
#   make run   install into .venv, run the default workflow and write its report
#   make test  install into .venv and run the test suite
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-stamp
CORES ?= all

.PHONY: install run test lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES)
	$(VENV)/bin/snakemake --report results/report.html

# two pytest-xdist workers: the tests that wait for the shared tiny runs form one group (tests/conftest.py)
test: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadgroup --no-loadscope-reorder

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/snakemake --lint
