# One venv, made on first use; every target installs what it needs from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system-deps lint test demo dev bench chaos clean

# Debian packages beyond Python, one per line; add new ones here, and say why below.
SYSTEM_PACKAGES := \
	libpango-1.0-0 \
	libpangoft2-1.0-0 \
	libharfbuzz-subset0 \
	fonts-dejavu-core
# libpango*, libharfbuzz-subset0: WeasyPrint lays out and embeds fonts in the signed PDFs.
# fonts-dejavu-core: a serif font that carries Vietnamese, for those PDFs.

install: system-deps $(STAMP)

# Installs the missing SYSTEM_PACKAGES with apt-get when run as root on Debian (CI, a fresh
# machine); otherwise names what is missing and stops. Does nothing when all are there.
system-deps:
	@command -v dpkg-query >/dev/null || { echo "system-deps: not Debian; install the \
	equivalents of: $(SYSTEM_PACKAGES)" >&2; exit 0; }; \
	missing=$$(for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
	  || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "system-deps: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "system-deps: missing Debian packages:" $$missing \
	    "(as root: apt-get install --no-install-recommends" $$missing")" >&2; exit 1; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps lint
	$(BIN)/pytest -q

demo: system-deps $(STAMP)
	MOTCUA_LOG_LEVEL=$${MOTCUA_LOG_LEVEL:-warning} $(BIN)/motcua demo

dev: system-deps $(STAMP)
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
