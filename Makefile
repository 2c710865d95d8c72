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

test: install-test
	$(PY) -m pytest

clean-cache:
	rm -rf cache/*

# The package as a user installs it: a fresh venv with numpy >= 2 and without dadapy
# (torch 2.13.0 first, so pip takes the local CPU build instead of a CUDA one), then the
# engine's tests without a browser or the dashboard (those needing dadapy skip).
NP2_VENV := .venv-numpy2
NP2_TESTS := --ignore-glob='tests/test_browser*' --ignore-glob='tests/test_app*' \
	--ignore=tests/test_load.py -m 'not browser'
test-numpy2:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found"; exit 1; }
	rm -rf $(NP2_VENV)
	$(PYTHON) -m venv $(NP2_VENV)
	$(NP2_VENV)/bin/pip install -q torch==2.13.0
	$(NP2_VENV)/bin/pip install -q . 'numpy>=2' pytest pytest-timeout hypothesis
	$(NP2_VENV)/bin/python -c "import numpy, sys; v = numpy.__version__; print('numpy', v); sys.exit(int(v.split('.')[0]) < 2)"
	! $(NP2_VENV)/bin/python -c "import dadapy" 2>/dev/null
	cd $(NP2_VENV) && bin/noisealign --version
	$(NP2_VENV)/bin/python -m pytest $(NP2_TESTS) $(NP2_ARGS)
