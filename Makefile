# One venv, made on first use; every target installs what it needs from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lint test demo dev bench chaos clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	MOTCUA_LOG_LEVEL=$${MOTCUA_LOG_LEVEL:-warning} $(BIN)/motcua demo

dev: $(STAMP)
	$(BIN)/motcua dev

bench: $(STAMP)
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/clock.py

# Durability: 500 dossiers played while the worker is killed -9 ten times and the embedded
# server restarted once; fails if a dossier, a notification or a portal record is lost or doubled.
chaos: $(STAMP)
	$(BIN)/python bench/chaos.py --dossiers $${DOSSIERS:-500} --kills $${KILLS:-10}

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
