# Two commands on a fresh Linux machine with Python 3.11:
#   make app    create .venv if missing, install, start the Streamlit app on the shipped default checkpoint
#   make test   same venv plus test tools, run the whole test suite
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# `make test` runs the suite in JOBS pytest-xdist workers (tests/conftest.py says how the work is split)
JOBS   ?= 2

.PHONY: app test fuzz install install-dev clean-venv pose-models

$(VENV)/bin/python:
	@echo "==> creating virtual environment in $(VENV)"
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python requirements.txt pyproject.toml
	@echo "==> installing runtime requirements (first run downloads/installs torch; this takes a few minutes)"
	$(PY) -m pip install --progress-bar off -r requirements.txt
	$(PY) -m pip install --progress-bar off --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	@echo "==> installing test tools"
	$(PY) -m pip install --progress-bar off -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

app: $(VENV)/.installed pose-models
	@echo "==> starting STAR Studio on http://localhost:$(PORT)"
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m ui.serve --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: $(VENV)/.installed-dev pose-models
	@echo "==> running the test suite"
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -n $(JOBS) tests

# every fuzz target of tests/fuzz for FUZZ_SECONDS each (atheris, coverage-guided; docs/SECURITY.md)
FUZZ_SECONDS ?= 60
fuzz: $(VENV)/.installed-dev pose-models
	@echo "==> fuzzing every reader of untrusted bytes, $(FUZZ_SECONDS) s each"
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) tests/fuzz/run.py all --seconds $(FUZZ_SECONDS)

# the two BlazePose models for video input, from the mediapipe==0.10.14 wheel (Apache-2.0); a no-op once verified
pose-models: $(VENV)/.installed
	@$(PY) -m star.video.models --fetch

clean-venv:
	rm -rf $(VENV)
