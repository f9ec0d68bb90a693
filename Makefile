# Two commands on a fresh machine: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SECONDS ?= 20

.PHONY: setup demo test lint unit functional integration sam bench bench-baseline clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup
	mkdir -p demo
	$(BIN)/splitstitch sample demo/sample.mp4 --seconds $(SECONDS)
	$(BIN)/splitstitch transcode demo/sample.mp4 -o demo/sample.out.mp4 --report demo/sample.report.json
	@echo "report: demo/sample.report.json"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: setup
	$(BIN)/pytest -q tests/unit

functional: setup
	$(BIN)/pytest -q -n 2 tests/functional

integration: setup
	$(BIN)/pytest -q tests/integration

test: setup lint
	$(BIN)/pytest -q -n 2 tests

# Stage benchmarks against the stored baseline (bench/baseline/, made on this project's 2-core VM by
# `make bench-baseline`): a median more than 50% slower fails. Then the pipeline against one ffmpeg,
# the median and spread of 5 alternating pairs.
BENCH_STORE := file://bench/baseline
BENCH_ARGS  := -q -p no:xdist bench --benchmark-only --benchmark-storage=$(BENCH_STORE) --benchmark-columns=min,median,max,rounds

bench: setup
	$(BIN)/pytest $(BENCH_ARGS) --benchmark-compare --benchmark-compare-fail=median:50%
	$(BIN)/python bench/compare_single.py --pairs 5

bench-baseline: setup
	$(BIN)/pytest $(BENCH_ARGS) --benchmark-save=baseline

clean:
	rm -rf demo .pytest_cache .benchmarks .aws-sam build

# AWS SAM: aws-sam-cli lives in its own venv (.venv-sam) because it pins boto3/cfn-lint below our dev pins.
.PHONY: sam-validate sam-build layer
SAM_VENV := .venv-sam
SAM      := SAM_CLI_TELEMETRY=0 PYENV_VERSION=3.11.7:3.12.1:3.13.0 $(SAM_VENV)/bin/sam

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

sam-build: setup $(SAM_VENV)/.installed
	$(SAM) build

layer: sam-build
	@echo "unzipped bytes (Lambda limit 262144000 per function incl. layers; + AWS's Powertools layer):"
	@du -sb .aws-sam/build/FfmpegLayer .aws-sam/build/CoreLayer .aws-sam/build/*Function
