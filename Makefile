# `make run` (gunicorn + a supervised worker on the embedded default, DEBUG off), `make dev`
# (runserver, autoreload, DEBUG), `make test`, and `make chaos` (fault and load experiments
# against real PostgreSQL and Redis on 127.0.0.1; CI runs it after the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run dev test chaos lint

run: $(VENV)/.runtime-installed
	bin/run-local run

dev: $(VENV)/.runtime-installed
	bin/run-local dev

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chaos: $(VENV)/.dev-installed
	$(BIN)/python -m chaos $(CHAOS_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

# Mutation testing of audit/, scans/images.py, scans/ml/registry.py and accounts/ (bin/mutants,
# docs/mutation-testing.md); not part of `make test`: it takes minutes per module.
.PHONY: mutants
mutants: $(VENV)/.dev-installed
	bin/mutants $(MUTANTS)

# Stamps: (re)install when the venv is new or a requirements file changed.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# The one-shot Xception run on a lent GPU machine (gpu/README.md): the payload it carries, and
# its rehearsal here under CPU JAX (0.10.2, the last for Python 3.11) with requirements.txt's keras.
.PHONY: gpu-payload gpu-rehearsal
JAX_VENV := var/jax-venv

gpu-payload: $(VENV)/.runtime-installed
	$(BIN)/python -m gpu.payload

gpu-rehearsal: $(VENV)/.dev-installed $(JAX_VENV)/.installed
	$(BIN)/python -m gpu.rehearse

$(JAX_VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(JAX_VENV)
	$(JAX_VENV)/bin/pip install "jax[cpu]==0.10.2" $$(grep -E '^(keras|numpy|pillow|scipy|h5py|scikit-image)==' requirements.txt)
	touch $@
