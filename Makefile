# make lessons: set up .venv if needed and execute every lesson headless (quick on a CPU).
# make test:    set up .venv if needed and run the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

# Use the offline CIFAR-10 copy beside the clone when there is one (else lessons try a download).
SHARED_DATA := $(wildcard $(CURDIR)/../shared/data/cifar10-jpeg.tar.gz)
ifneq ($(SHARED_DATA),)
export RESNET_EDU_DATA ?= $(abspath $(SHARED_DATA))
endif

.PHONY: lessons test lint setup setup-dev clean gpu-wheels

setup: $(VENV)/.installed

# Learners: the lessons' requirements only.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Developers: the same plus the `dev` extra (pytest, ruff, the landscape benchmark's reference).
setup-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

lessons: setup
	$(PY) -m resnet_edu lessons

test: setup-dev
	$(PY) -m pytest

lint: setup-dev
	$(PY) -m ruff check resnet_edu tests benchmarks notebooks
	$(PY) -m ruff format --check resnet_edu tests benchmarks notebooks

clean:
	rm -rf executed .pytest_cache .ruff_cache

# An offline GPU machine without Jupyter: the headless kernel's wheels for its Python, to carry in
# .wheels/ (git-ignored); benchmarks/gpu.sh installs them for its lesson stages.
GPU_PYTHON ?= 3.12
gpu-wheels: setup
	$(PY) -m pip download --quiet --only-binary=:all: --python-version $(GPU_PYTHON) \
	  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .wheels nbclient nbformat ipykernel
