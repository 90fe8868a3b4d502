# make lessons: set up .venv if needed and execute every lesson headless (quick on a CPU).
# make test:    set up .venv (and the Colab-like .venv-colab) if needed and run the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

# Use the offline CIFAR-10 copy beside the clone when there is one (else lessons try a download).
SHARED_DATA := $(wildcard $(CURDIR)/../shared/data/cifar10-jpeg.tar.gz)
ifneq ($(SHARED_DATA),)
export RESNET_EDU_DATA ?= $(abspath $(SHARED_DATA))
endif

.PHONY: lessons test lint setup setup-dev clean gpu-wheels colab-venv figures repository site

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
	$(PY) -m pip install --quiet -e ".[dev,site]"
	touch $@

# EDITION=ko runs the Korean edition (notebooks/ko/; executed copies in executed/ko/).
EDITION ?= en
lessons: setup
	$(PY) -m resnet_edu lessons --lang $(EDITION)

# The README's figures: the lessons executed with their figures written into figures/ (tracked).
figures: setup
	RESNET_EDU_FIGURES=$(CURDIR)/figures $(PY) -m resnet_edu lessons

test: setup-dev colab-venv
	RESNET_EDU_COLAB_PYTHON=$(CURDIR)/$(COLAB_VENV)/bin/python $(PY) -m pytest

# Colab's package set (its runtime manifest; see README, "Open in Colab"), pinned where it installs on
# this Python, for the Colab-like job in the tests; the torch is the one on this machine's disk. No
# resnet_edu: the lessons' install cell installs it. Built once, reused by later runs.
COLAB_VENV ?= .venv-colab
COLAB_TORCH ?= torch==2.14.1 torchvision==0.29.1
COLAB_PACKAGES := $(COLAB_TORCH) "numpy==2.1.*" "pandas==2.2.*" "matplotlib==3.10.*" "seaborn==0.13.*" \
  "tqdm==4.67.*" ipywidgets==7.7.1 "ipython==7.34.*" "ipykernel==6.17.*" "notebook==6.5.*" nbclient nbformat
colab-venv: $(COLAB_VENV)/.installed

# torch and its CUDA libraries are hard-linked from $(VENV) (.ci/share_torch.py), not copied: two
# venvs of the CUDA build would need about 11 GB of disk, one needs 6.
$(COLAB_VENV)/.installed: Makefile .ci/share_torch.py | $(VENV)/.installed
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PY) .ci/share_torch.py "$$($(COLAB_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	$(COLAB_VENV)/bin/python -m pip install --quiet $(COLAB_PACKAGES)
	touch $@

# The website: build/site/html from the lessons `make lessons` executed (run that first). Offline.
site: $(VENV)/.installed-site
	$(PY) -m resnet_edu site

$(VENV)/.installed-site: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[site]"
	touch $@

# A fork: `make repository URL=https://github.com/OWNER/NAME` points every badge and install cell at it.
repository: setup
	$(PY) -m resnet_edu repository "$(URL)"

lint: setup-dev
	$(PY) -m ruff check resnet_edu tests benchmarks notebooks
	$(PY) -m ruff format --check resnet_edu tests benchmarks notebooks

clean:
	rm -rf executed .pytest_cache .ruff_cache $(COLAB_VENV)

# An offline GPU machine without Jupyter: the headless kernel's wheels for its Python, to carry in
# .wheels/ (git-ignored); benchmarks/gpu.sh installs them for its lesson stages.
GPU_PYTHON ?= 3.12
gpu-wheels: setup
	$(PY) -m pip download --quiet --only-binary=:all: --python-version $(GPU_PYTHON) \
	  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .wheels nbclient nbformat ipykernel
