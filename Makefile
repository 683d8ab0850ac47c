# Two commands set everything up on a fresh machine with Python 3.11, 3.12 or 3.13:
#   make run    installs the workflow into .venv and runs it on the embedded demo corpus
#   make test   installs it (with the test tools) and runs the whole test suite
#   make lint   ruff (lint and format check), snakefmt --check, snakemake --lint, mypy
# and, after `make run`:
#   make report the workflow's HTML report, results/report.html
#   make clean  removes results/ and .snakemake/ (outputs, logs, Snakemake's records)

# The Python that creates .venv: PYTHON=..., else the first of python3.11, 3.12, 3.13 and
# python3 on the PATH (looked up before .venv/bin goes on the PATH below).
ifndef PYTHON
PYTHON := $(shell for p in python3.11 python3.12 python3.13 python3; do \
                      command -v $$p && break; done)
endif
SUPPORTED_PYTHONS := 3.11 3.12 3.13
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# The extras the default run and the test suite use: eGeMAPS (openSMILE) and SLURM.
EXTRAS := dev,egemaps,slurm

export PATH := $(abspath $(BIN)):$(PATH)

# PYTHON's version as 3.NN (empty if it does not run), and a check that stops make with one
# line, before anything is created, when that is not a supported version. (No commas in
# the message: it sits inside $(if ...).)
python_version = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
                     2>/dev/null)
check_python = $(if $(filter $(SUPPORTED_PYTHONS),$(python_version)),,$(error affectrep \
    needs Python 3.11 to 3.13 but $(or $(PYTHON),python3) is $(if $(python_version),Python \
    $(python_version),not found): install one of them and pass it (make $(or $(MAKECMDGOALS),run) \
    PYTHON=python3.12)))

.PHONY: install run test lint report clean check-python

$(STAMP): pyproject.toml
	$(check_python)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

check-python:
	@echo "$(PYTHON) is Python $(python_version)$(check_python): supported"

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) all

test: $(STAMP)
	$(BIN)/python -m pytest

# Every check, in order; the first that fails stops make. Formatting is only checked here:
# `ruff format .` and `snakefmt Snakefile workflow/rules` apply it.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/mypy

# Snakemake's self-contained HTML report of the finished run (figures, tables, captions,
# run times); it reads the outputs and reruns nothing.
report: $(STAMP)
	$(BIN)/snakemake --report results/report.html all
	@echo "make report: wrote results/report.html"

# Only these two folders, wherever `results` points: the workflow's outputs and logs, and
# Snakemake's own records (metadata, conda environments, the JAX compilation cache). The
# virtual environment and the source tree stay.
clean:
	@removed=; for d in results .snakemake; do \
	    if [ -e "$$d" ] || [ -L "$$d" ]; then rm -rf -- "$$d"; removed="$$removed $$d/"; fi; \
	done; \
	echo "make clean: removed$${removed:- nothing (no results/ or .snakemake/)}; .venv and the sources are kept"
