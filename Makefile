# Two commands (README): `make run` sets up .venv if absent, runs the workflow on the
# embedded default config and builds results/report.html; `make test` lints and type-checks
# the library and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: install run test clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first: 2.13.0 (CPU build) satisfies the project's range without a CUDA download
	$(BIN)/python -m pip install -q "torch==2.13.0"
	# root:// URLs work out of the box; the HTCondor plugin is opt-in (its bindings warn on
	# every snakemake start where no HTCondor is configured): pip install -e ".[htcondor]"
	$(BIN)/python -m pip install -q -e ".[test,xrootd]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

test: install
	$(BIN)/ruff check src
	$(BIN)/mypy
	$(BIN)/python -m pytest -q --durations=15

clean:
	rm -rf results logs benchmarks .snakemake

# The released environment instead (every package pinned in requirements.lock), then
# bumpfold itself; `make run` and `make test` then use it as it is.
.PHONY: install-locked
install-locked:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(VENV)/.installed
