# One command to run the pipeline (`make dev`), one to test it (`make test`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= $(CURDIR)/data
PORT ?= 3000
export HF_HUB_OFFLINE := 1
export DAGSTER_HOME := $(HOME_DIR)/dagster_home
export VCF_PIPELINE_HOME := $(HOME_DIR)

.PHONY: install dev ingest test bench clean-home

# torch first and pinned: the CPU wheel of 2.13.0; anything else would pull GB of CUDA packages.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

# Ingest the bundled samples (fast when already done: nothing is re-embedded), then UI + daemon.
dev: install
	$(BIN)/vcf-pipeline ingest --home $(HOME_DIR) data/samples
	$(BIN)/dagster dev -h 127.0.0.1 -p $(PORT) -w workspace.yaml

# Headless: `make ingest FILES="path/to/a.vcf folder/"` (default: the samples and data/incoming).
FILES ?= data/samples $(HOME_DIR)/incoming
ingest: install
	$(BIN)/vcf-pipeline ingest --home $(HOME_DIR) $(FILES)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/run.py

clean-home:
	rm -rf $(HOME_DIR)/warehouse $(HOME_DIR)/lancedb $(HOME_DIR)/kuzu $(HOME_DIR)/dagster_home $(HOME_DIR)/sources.json
