# Two commands on a fresh machine: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SECONDS ?= 20

.PHONY: setup demo cloud-demo test test-real lint unit functional integration player-libs sam bench bench-baseline clean

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

# The cloud path on this machine: `splitstitch cloud local` serves the stack of template.yaml (moto; no Docker, no
# AWS account), `splitstitch cloud run` uploads a clip to it, follows the job and downloads the verified output.
CLOUD_PORT ?= 4566
LOCAL_AWS  := AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1

cloud-demo: setup
	mkdir -p demo
	test -f demo/sample.mp4 || $(BIN)/splitstitch sample demo/sample.mp4 --seconds $(SECONDS)
	@export $(LOCAL_AWS); \
	$(BIN)/splitstitch cloud local --port $(CLOUD_PORT) --parameter Preset=veryfast >demo/cloud-local.out 2>demo/cloud-local.log & \
	pid=$$!; trap "kill $$pid; wait $$pid" EXIT; \
	for i in $$(seq 1 150); do test -s demo/cloud-local.out && break; sleep 0.2; done; \
	cat demo/cloud-local.out; \
	$(BIN)/splitstitch cloud run demo/sample.mp4 --endpoint-url http://127.0.0.1:$(CLOUD_PORT) -o demo/sample.cloud.mp4 && \
	$(BIN)/splitstitch cloud status --key uploads/sample.mp4 --endpoint-url http://127.0.0.1:$(CLOUD_PORT)
	@echo "function logs: demo/cloud-local.log"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: setup
	$(BIN)/pytest -q tests/unit

functional: setup
	$(BIN)/pytest -q -n 2 tests/functional

integration: setup
	$(BIN)/pytest -q tests/integration

# hls.js, dash.js and Shaka Player for tests/player, from npm into ~/.cache/splitstitch/player (or $$SPLITSTITCH_PLAYER_LIBS)
player-libs: setup
	$(BIN)/python -m tests.player.support

test: setup lint
	$(BIN)/pytest -q -n 2 tests
	$(BIN)/pytest -q -p no:xdist bench --benchmark-disable  # the benchmarks run once each: they cannot rot

# Real files, not part of `make test`: the shared corpus (11 files, 17.8 MB, from Debian packages) is fetched
# into a cache, then every file is transcoded in the file mode and in the streaming mode (--format cmaf) and
# each output is decoded and compared with the source as decoded (frames and their times, durations, audio as
# heard, headers, a clean decode); a table at the end shows every output. REAL_ARGS go to every transcode
# (a preset with B-frames by default), REAL_LADDER is the streaming ladder.
REAL_FETCH  ?= ../shared/real-media/fetch.sh
REAL_MEDIA  ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splitstitch-real-media
REAL_ARGS   ?= --preset veryfast
REAL_LADDER ?= auto

test-real: setup
	bash $(REAL_FETCH) $(REAL_MEDIA)
	SPLITSTITCH_REAL_MEDIA=$(REAL_MEDIA) SPLITSTITCH_REAL_ARGS="$(REAL_ARGS)" SPLITSTITCH_REAL_LADDER=$(REAL_LADDER) \
		$(BIN)/pytest -q -p no:xdist tests/real

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
