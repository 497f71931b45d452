# quickfit: a CSV of texts and labels in, a fine-tuned transformer classifier out.
# `make help` lists the targets. Set-up is automatic: the first target you run creates .venv.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements-torch.txt requirements.txt constraints.txt | cksum | cut -d' ' -f1)

# Optional arguments: make train DATA=path.csv SET="num_train_epochs=3 learning_rate=3e-5" RESUME=1
# Every variable reaches Python through the environment, unexpanded ($(value ...)), as data: never
# through the shell, so spaces, quotes, parentheses, ';' and '$' in a path or a value are safe.
ARGS := DATA SET RUN RESUME DEBUG KAGGLE REPO PRIVATE DRY_RUN INCLUDE_DATA INPUT OUTPUT COLUMN_NAMES \
        TEXT_COLUMN QUANTIZE BACKEND PORT ROWS ROUNDS SEEDS TRIALS NAME RUNS NPROC TORCHRUN_ARGS \
        SIZES DRAWS FIRST_DRAW METHODS HOST SHARD ENGINE WORKERS REQUESTS
$(foreach v,$(ARGS),$(eval export QF_$(v) = $$(value $(v))))
unexport $(ARGS)  # make would expand the originals to export them
CLI    := $(PY) -m scripts.cli

.DEFAULT_GOAL := help
.PHONY: help install data train eval card push predict export app serve notebook bench bench-inference bench-serve bench-scale experiments sweep curve compare tensorboard gpu-check lint format test test-fast clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-torch.txt requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "[quickfit] installing pinned requirements into $(VENV) (first run only)"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-torch.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)  ## create .venv with the pinned requirements (torch CPU build first)

data: $(STAMP)  ## fetch the dataset: default preset, DATA=<preset>, or KAGGLE=owner/dataset
	$(CLI) data

train: $(STAMP)  ## fine-tune on the configured data (DATA=, SET="k=v ...", RESUME=1, NPROC=N [TORCHRUN_ARGS=])
	$(CLI) train

eval: $(STAMP)  ## evaluate outputs/latest (or RUN=) on its test split, or DATA=labelled.csv
	$(CLI) eval

card: $(STAMP)  ## write the model card (README.md in the run's model folder)
	$(CLI) card

push: $(STAMP)  ## push to the Hub: REPO=user/name [PRIVATE=1] [DRY_RUN=1] [INCLUDE_DATA=1]
	$(CLI) push

predict: $(STAMP)  ## predict a CSV: INPUT=new.csv [OUTPUT=] [RUN=] [COLUMN_NAMES=label,text] [TEXT_COLUMN=] [QUANTIZE=1] [BACKEND=auto|torch|onnx] [SHARD=i/N] [ENGINE=ray WORKERS=2 (INPUT=folder)]
	$(CLI) predict

export: $(STAMP)  ## the run's model as ONNX, checked against PyTorch -> outputs/<run>/onnx/ (RUN=, QUANTIZE=1 adds int8)
	$(CLI) export

app: $(STAMP)  ## start the Gradio demo on http://127.0.0.1:7860 (RUN=, PORT=)
	$(CLI) app

serve: $(STAMP)  ## HTTP endpoint with dynamic batching: POST /predict, /health, /info, /docs (RUN=, PORT=8000, HOST=127.0.0.1, BACKEND=auto|onnx|torch)
	$(CLI) serve

notebook: $(STAMP)  ## execute notebooks/walkthrough.ipynb into outputs/walkthrough.ipynb
	$(CLI) notebook

bench: $(STAMP)  ## training and prediction speed vs Simple Transformers and HF Trainer -> bench/RESULTS.md (+ the inference table)
	$(CLI) bench
	@if [ -e outputs/latest ]; then $(CLI) bench-inference; else echo "[quickfit] no outputs/latest: make train, then make bench-inference for the inference table"; fi

experiments: $(STAMP)  ## defaults on SMS spam, Reuters R8, GoEmotions -> bench/EXPERIMENTS.md (SEEDS=, ROWS=)
	$(CLI) experiments

sweep: $(STAMP)  ## Optuna search over config.SEARCH on validation: TRIALS=20 [DATA=] [SET=] [NAME=] [RESUME=1]
	$(CLI) sweep

curve: $(STAMP)  ## learning curve: quickfit, frozen probe, TF-IDF at growing labelled sizes [DATA=] [SIZES=8,16,32,64,all] [DRAWS=3] [FIRST_DRAW=0] [METHODS=...,setfit] -> outputs/curves/<name>/
	$(CLI) curve

compare: $(STAMP)  ## leaderboard of finished runs (comparable ones only) -> outputs/compare.md [RUNS=a,b]
	$(CLI) compare

tensorboard: $(STAMP)  ## training curves of every run in outputs/ on http://127.0.0.1:6006 (PORT=)
	$(CLI) tensorboard

bench-inference: $(STAMP)  ## rows/s, latency and cold start: PyTorch vs ONNX Runtime, fp32 and int8 (RUN=) -> bench/INFERENCE.md
	$(CLI) bench-inference

bench-serve: $(STAMP)  ## load test of make serve at 1, 8 and 32 clients, each backend, against make predict (RUN=, REQUESTS=) -> bench/SERVE.md
	$(CLI) bench-serve

bench-scale: $(STAMP)  ## the pipeline at 10k, 100k and 1M rows (ROWS=10000,100000,1000000) -> bench/SCALE.md
	$(CLI) bench-scale

gpu-check: $(STAMP)  ## on a CUDA machine: bf16 and fp16 runs, fp16 base, interrupt + resume, predict -> bench/GPU.md
	$(CLI) gpu-check

lint: $(STAMP)  ## ruff: lint and check the formatting (line length 110, pyproject.toml)
	$(PY) -m ruff check scripts tests bench
	$(PY) -m ruff format --check scripts tests bench

format: $(STAMP)  ## ruff: fix what it can and format the code
	$(PY) -m ruff check --fix scripts tests bench
	$(PY) -m ruff format scripts tests bench

# One pytest-xdist worker a logical CPU, at most 4: the tiny trainings run on one thread and many tests
# wait on subprocesses, so two workers took the suite from 822 s to 523 s on a 2-core machine. Tests go to
# the workers module by module (loadscope): a module's shared training fixtures are built once, not once
# a worker. PYTEST_XDIST_AUTO_NUM_WORKERS=0 make test runs it in one process.
XDIST := -n logical --maxprocesses=4 --dist loadscope
test: $(STAMP)  ## run the whole test suite (what CI runs)
	$(PY) -m pytest -q $(XDIST)

test-fast: $(STAMP)  ## the edit-test loop: every test but the slow end-to-end ones (pytest -m "not slow")
	$(PY) -m pytest -q $(XDIST) -m "not slow"

clean:  ## remove outputs (keeps data/ and .venv)
	rm -rf outputs/* outputs/.incomplete outputs/.latest.tmp
	@git checkout -- outputs/README.md 2>/dev/null || true
