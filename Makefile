# One command to run the pipeline (`make dev`), one to test it (`make test`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= $(CURDIR)/data
PORT ?= 3000
S3_PORT ?= 8333
export HF_HUB_OFFLINE := 1
# The home of `make dev` and `make ingest`; the tests make their own homes.
dev ingest: export VCF_PIPELINE_HOME := $(HOME_DIR)
dev ingest: export DAGSTER_HOME := $(HOME_DIR)/dagster_home
# `dg` checks that the project's environment is the active one.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install dev ingest test postgres browser bench clean-home

# torch first and pinned: the CPU wheel of 2.13.0; anything else would pull GB of CUDA packages.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

# Ingest the bundled samples (fast when already done: nothing is re-embedded) and the trio's pedigree,
# then `vcf-pipeline dev`:
# the local S3 server (SeaweedFS, 127.0.0.1 only, data and owner-only credentials in $(HOME_DIR)/s3,
# named in $(HOME_DIR)/vcf-pipeline.yaml) and `dg dev` (UI + daemon). Ctrl-C or TERM stops all of it.
dev: install
	umask 077; $(BIN)/vcf-pipeline ingest --home $(HOME_DIR) data/samples
	umask 077; $(BIN)/vcf-pipeline samples load --home $(HOME_DIR) data/samples/family_trio.ped
	umask 077; exec $(BIN)/vcf-pipeline dev --home $(HOME_DIR) --port $(PORT) --s3-port $(S3_PORT) $(if $(EXPLORER_PORT),--explorer-port $(EXPLORER_PORT))

# Headless: `make ingest FILES="path/to/a.vcf folder/"` (default: the samples and data/incoming).
FILES ?= data/samples $(HOME_DIR)/incoming
ingest: install
	$(BIN)/vcf-pipeline ingest --home $(HOME_DIR) $(FILES)

# The tests start a real Postgres (Debian's `postgresql`): installed here when missing, where apt can.
postgres:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "the tests need Postgres: install Debian's postgresql package (initdb, postgres)" >&2; exit 1; fi

# The explorer's tests drive a real headless browser: Debian's `chromium`, installed here when missing.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "the tests need a headless browser: install Debian's chromium package" >&2; exit 1; fi

test: install postgres browser
	$(BIN)/python -m pytest -q --durations=15

bench: install
	$(BIN)/python bench/run.py

clean-home:
	rm -rf $(HOME_DIR)/warehouse $(HOME_DIR)/lancedb $(HOME_DIR)/kuzu $(HOME_DIR)/dagster_home $(HOME_DIR)/sources.json
