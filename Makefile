# Two commands for a newcomer: `make quickstart` and `make test`.
# Both create .venv when it is missing and install the project into it; the second run is quiet.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.blendcast-installed
DEMO ?= $(CURDIR)/.blendcast/demo
export BLENDCAST_HOME ?= $(CURDIR)/.blendcast

.PHONY: quickstart test lint venv clean cli-startup

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing Blendcast and its dependencies into $(VENV) (first run only) ..."
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev,bench]"
	@touch $(STAMP)

# The main job end to end on embedded defaults (SQLite result store and MLflow under .blendcast/):
# demo catalogue -> data health -> weekly training (backtest, fit, policies, MLflow champion) -> summary.
quickstart: $(STAMP)
	@$(BIN)/blendcast demo-data --skus 24 --channels 3 --days 730 --seed 7 --out $(DEMO) --no-plot
	@$(BIN)/blendcast validate $(DEMO)
	@$(BIN)/blendcast train --data $(DEMO) --folds 1
	@$(BIN)/blendcast summary

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/mypy

test: $(STAMP) lint
	@$(BIN)/python -m pytest -q

# How long `blendcast --help` and a few `<command> --help` take (min / median / max of 5 fresh runs).
cli-startup: $(STAMP)
	@$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) .blendcast .pytest_cache .mypy_cache .ruff_cache
