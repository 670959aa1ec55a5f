# One command to run the pipeline (`make dev`), one to test it (`make test`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= $(CURDIR)/data
PORT ?= 3000
S3_PORT ?= 8333
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

# Ingest the bundled samples (fast when already done: nothing is re-embedded), start the local S3
# server (SeaweedFS, 127.0.0.1 only, data in $(HOME_DIR)/s3, stopped by its pid on exit), then UI + daemon.
# The credentials are for that local server only; set these variables to back up elsewhere.
dev: export AWS_ACCESS_KEY_ID ?= vcf-pipeline-dev
dev: export AWS_SECRET_ACCESS_KEY ?= vcf-pipeline-dev-secret
dev: export VCF_PIPELINE_S3_ENDPOINT ?= http://127.0.0.1:$(S3_PORT)
dev: export VCF_PIPELINE_S3_BUCKET ?= vcf-pipeline
dev: install
	$(BIN)/vcf-pipeline ingest --home $(HOME_DIR) data/samples
	umask 077; $(BIN)/vcf-pipeline s3-server --home $(HOME_DIR) --port $(S3_PORT) & echo $$! > $(HOME_DIR)/s3-server.pid; \
	trap 'kill $$(cat $(HOME_DIR)/s3-server.pid) 2>/dev/null' EXIT; \
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
