# Quick start: `make run` (the dashboard on http://localhost:8501) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test test-numpy2 install install-test clean-cache

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: requirements.txt pyproject.toml | $(PY)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt $(VENV)/.installed
	$(PIP) install -r requirements-test.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/streamlit run app.py

# Lint and type-check first (config in pyproject.toml), then the tests on two workers; a
# test file's tests stay on one worker (--dist loadfile: its module fixtures, e.g. a
# server, start once).
test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 --dist loadfile $(TEST_ARGS)

clean-cache:
	rm -rf cache/*

# The package as a user installs it: a fresh venv with numpy >= 2 and without dadapy
# (torch 2.13.0 first, so pip takes the local CPU build instead of a CUDA one), `pip
# install .`, the installed wheel used from outside the checkout (version, a run as JSON),
# then the engine's tests (no browser, no dashboard; those needing dadapy skip).
NP2_VENV := .venv-numpy2
NP2_TESTS := tests/base tests/pipeline tests/measures tests/store tests/compute tests/cli \
	tests/own_models tests/presets tests/test_import_name.py tests/test_packaging.py \
	-m 'not browser and not slow' -n 2 -p no:cacheprovider
test-numpy2:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found"; exit 1; }
	rm -rf $(NP2_VENV)
	$(PYTHON) -m venv $(NP2_VENV)
	$(NP2_VENV)/bin/pip install -q torch==2.13.0
	$(NP2_VENV)/bin/pip install -q . 'numpy>=2' pytest pytest-timeout pytest-xdist hypothesis
	$(NP2_VENV)/bin/python -c "import numpy, sys; v = numpy.__version__; print('numpy', v); sys.exit(int(v.split('.')[0]) < 2)"
	! $(NP2_VENV)/bin/python -c "import dadapy" 2>/dev/null
	cd $(NP2_VENV) && bin/noisealign --version && bin/python -c "import noisealign; assert 'site-packages' in noisealign.__file__, noisealign.__file__" \
	  && NOISEALIGN_CACHE_DIR=np2-cache bin/noisealign run --json --dataset linear-teacher --n-train 20 --n-probe 20 --width 4 -K 2 --max-epochs 5 > np2-run.json \
	  && bin/python -c "import json; d = json.load(open('np2-run.json')); print('installed run:', sorted(d)[:6])"
	$(NP2_VENV)/bin/python -m pytest $(NP2_TESTS) $(NP2_ARGS)
