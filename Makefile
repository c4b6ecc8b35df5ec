# One venv, made on first use; every target installs what it needs from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lint test demo dev bench chaos clean browser screenshots

install: $(STAMP) browser

# The browser tests drive Debian's Chromium (never a downloaded build). Installed here when
# missing (as root, through apt); anywhere else this fails loudly instead of skipping tests.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && apt-get install -y -q --no-install-recommends chromium; \
	  else \
	    echo "error: $(CHROMIUM) is missing; install Debian's chromium (apt-get install chromium)"; \
	    exit 1; \
	  fi; }
	@test -x $(CHROMIUM) || { echo "error: $(CHROMIUM) still missing after apt-get"; exit 1; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint browser
	$(BIN)/pytest -q

demo: $(STAMP)
	MOTCUA_LOG_LEVEL=$${MOTCUA_LOG_LEVEL:-warning} $(BIN)/motcua demo

dev: $(STAMP)
	$(BIN)/motcua dev

# The screenshots of the README's tour, refreshed by the browser test.
screenshots: $(STAMP) browser
	MOTCUA_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/test_web_browser.py

bench: $(STAMP)
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/clock.py

# Durability: 500 dossiers played while the worker is killed -9 ten times and the embedded
# server restarted once; fails if a dossier, a notification or a portal record is lost or doubled.
chaos: $(STAMP)
	$(BIN)/python bench/chaos.py --dossiers $${DOSSIERS:-500} --kills $${KILLS:-10}

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
