# The two commands of the README:
#   make compare   - set up (first time) and run the default scenario comparison
#   make test      - set up (first time) and run the test suite
#   make viz       - open the browser view (h2chain viz, http://127.0.0.1:8765)
#   make bench     - the benchmark against Mesa's BoltzmannWealth (h2chain bench, 8-12 min)
# Setup is a local virtual environment in .venv built with Python 3.12 (see .python-version).

PYTHON ?= $(shell command -v python3.12 2>/dev/null || (command -v pyenv >/dev/null && pyenv which python3.12 2>/dev/null) || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup compare test bench viz clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "h2chain needs Python >= 3.12; set PYTHON=/path/to/python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,viz]"
	$(BIN)/python -m viz.install_offline_assets
	touch $(STAMP)

setup: $(STAMP)

compare: $(STAMP)
	$(BIN)/h2chain compare

test: $(STAMP)
	$(BIN)/python -m pytest -q

viz: $(STAMP)
	$(BIN)/h2chain viz

bench: $(STAMP)
	$(BIN)/h2chain bench --json bench.json

clean:
	rm -rf $(VENV)
