# Two commands on a fresh machine: `make demo` (pipeline on the synthetic demo corpus) and
# `make test`. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME ?= $(CURDIR)/.gra/prefect
# The project's own model store (gra.store); raw `bentoml` commands run by make use it too.
export BENTOML_HOME ?= $(CURDIR)/.gra/bentoml
$(shell mkdir -p .gra/prefect)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export BENTOML_DO_NOT_TRACK := true
export GX_ANALYTICS_ENABLED := false
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: demo test lint format lock bench accuracy learning-curve serve schedule monitor clean

# The environment comes from the lock (every package pinned, with hashes, every compiled one as
# a manylinux wheel that bundles its native libraries), not from a fresh resolution of
# pyproject.toml's ranges; --no-deps because the lock is complete. gra itself goes on top.
LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/runtime.txt
# torch's CPU build is on PyTorch's own index, not on PyPI: it is installed first, from pip's
# configured sources when they have it (a mirror, a wheel folder), else from TORCH_INDEX alone
# (an extra index in the lock would be asked for every package).
TORCH_LOCK := requirements/torch.txt
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# The lock is for CPython 3.11 (pyproject's requires-python); any other stops here, at once.
INTERPRETER = $(if $(wildcard $(PY)),$(PY),$(PYTHON))
PYTHON_CHECK = $(INTERPRETER) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
	|| { echo "GRA needs Python 3.11 (its lock is for 3.11); '$(INTERPRETER)' is" \
	"$$($(INTERPRETER) --version 2>/dev/null || echo 'not found'). Install Python 3.11 (pyenv install" \
	"3.11, uv python install 3.11, or your system's python3.11 package), then run again with" \
	"PYTHON=/path/to/python3.11 (and rm -rf $(VENV) if it was made with another Python)." >&2; exit 1; }

$(VENV)/.installed: $(LOCK) $(TORCH_LOCK) pyproject.toml
	@$(PYTHON_CHECK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-deps -r $(TORCH_LOCK) 2>/dev/null \
		|| $(PY) -m pip install -q --no-deps --index-url $(TORCH_INDEX) -r $(TORCH_LOCK)
	$(PY) -m pip install -q --no-deps -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# `make lock` re-resolves pyproject.toml into the lock, keeping every pin it can (add
# LOCK_ARGS=--upgrade, or --upgrade-package NAME, to move versions), for CI's platform whatever
# machine runs it. Everything comes from PyPI, which lists every wheel of a version (so the
# lock's hashes let pip pick the manylinux one); torch from pip's wheel folder where one is
# configured, else from TORCH_INDEX. runtime.txt, what the bento installs, is pyproject's
# runtime part with the lock's versions; torch.txt is the lock's torch entry.
LOCK_PLATFORM := --python-version 3.11 --python-platform x86_64-manylinux_2_28
LOCAL_WHEELS = $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
TORCH_SOURCES = $(if $(LOCAL_WHEELS),$(foreach d,$(LOCAL_WHEELS),--find-links $(d)),\
	--extra-index-url $(TORCH_INDEX))
UV_COMPILE = $(VENV)/bin/uv pip compile -q pyproject.toml $(LOCK_PLATFORM) \
	--index-strategy unsafe-best-match $(TORCH_SOURCES) -c requirements/constraints.txt \
	--excludes requirements/excludes.txt --custom-compile-command 'make lock'

lock:
	test -x $(VENV)/bin/uv || { test -x $(PY) || $(PYTHON) -m venv $(VENV); $(PY) -m pip install -q uv; }
	$(UV_COMPILE) --extra dev --generate-hashes $(LOCK_ARGS) -o $(LOCK)
	$(UV_COMPILE) -c $(LOCK) --no-annotate -o $(RUNTIME_LOCK)
	awk '/^torch==/ {p = 1; print; next} p && /^ +--hash/ {print; next} {p = 0}' $(LOCK) > $(TORCH_LOCK)

# The demo corpus is the dvc.yaml stage demo_data; the flow runs every stage that is stale.
demo: $(VENV)/.installed
	$(PY) flows/training.py
	@echo "gra is in $(VENV)/bin: 'source $(VENV)/bin/activate', then for example" \
		"'gra predict data/raw/demo/en/clips/common_voice_en_demo_000000.mp3' or 'gra serve'" \
		"(or 'make serve', which needs no activation)."

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: $(VENV)/.installed
	$(PY) bench/featurize.py ../shared/cv-real-dev
	$(PY) bench/serve.py ../shared/cv-real-dev

# Every candidate and the two reference recipes on 5 speaker-disjoint folds (~25 min).
accuracy: $(VENV)/.installed
	$(PY) bench/speaker_folds.py ../shared/cv-real-dev .gra/cv-folds --folds 5
	$(PY) bench/real_accuracy.py --folds .gra/cv-folds

learning-curve: $(VENV)/.installed
	$(PY) bench/speaker_folds.py ../shared/cv-real-dev .gra/cv-folds --folds 5
	$(PY) bench/learning_curve.py --folds .gra/cv-folds --families logreg

serve: $(VENV)/.installed
	$(VENV)/bin/gra serve

# Retraining on schedule.retrain_cron and drift monitoring, with a local Prefect server + UI.
schedule: $(VENV)/.installed
	$(VENV)/bin/gra schedule

monitor: $(VENV)/.installed
	$(VENV)/bin/gra monitor

# The exploration notebooks top to bottom (GRA_NOTEBOOK_SOURCE=... for another source);
# executed copies in .gra/notebooks/, the committed ones stay without outputs.
.PHONY: notebooks
notebooks: $(VENV)/.installed
	$(PY) notebooks/run.py

clean:
	rm -rf data/prepared data/features models reports metrics plots .gra/cache
