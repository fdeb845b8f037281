# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser bpmn docs studio

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dask,studio]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/salessim compare scenarios/b2b_baseline.yaml scenarios/redesigns/*.yaml --out out/demo

# The suite runs on every core (pytest-xdist); each test module runs on one worker, so its
# fixtures are built once (pyproject.toml: --dist loadscope).
test: $(STAMP) browser bpmn
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n auto

# The report's browser test needs Chromium: install the Debian package when it is missing
# and this is possible (apt-get present and running as root); otherwise that test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y chromium >/dev/null 2>&1 || \
	    { apt-get update >/dev/null 2>&1 && apt-get install -y chromium >/dev/null 2>&1; } || \
	    echo "could not install chromium: the browser test will skip"; \
	  else echo "no chromium and no way to install it (needs apt-get and root): the browser test will skip"; fi; }

# The BPMN diagram test opens our BPMN in bpmn-moddle (the bpmn.io parser): installed from
# the npm registry beside the venv when npm is there; otherwise that test skips.
bpmn: $(STAMP)
	@[ -d $(VENV)/npm/node_modules/bpmn-js ] || \
	{ if command -v npm >/dev/null 2>&1; then \
	    npm install --silent --no-audit --no-fund --prefix $(VENV)/npm bpmn-moddle bpmn-js >/dev/null 2>&1 || \
	    echo "could not install bpmn-moddle: the BPMN parser test will skip"; \
	  else echo "no npm: the BPMN parser test will skip"; fi; }

# Rerun every figure quoted in README.md and docs/ and rewrite the generated parts.
docs: $(STAMP)
	$(BIN)/python docs/figures.py --write

# The local web app over the scenarios folder (docs/studio.md).
studio: $(STAMP)
	$(BIN)/salessim studio scenarios

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
