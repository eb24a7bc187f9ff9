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

# The environment comes from the lock (every package pinned, with hashes), not from a fresh
# resolution of pyproject.toml's ranges; gra itself is installed on top without dependencies.
LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/runtime.txt

$(VENV)/.installed: $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# `make lock` re-resolves pyproject.toml into the lock, keeping every pin it can (add
# LOCK_ARGS=--upgrade, or --upgrade-package NAME, to move versions), for CI's platform whatever
# machine runs it. uv does not read pip's configuration, so it gets the same wheel folder and
# local indexes pip uses here. runtime.txt, what the bento installs, is pyproject's runtime part
# with the lock's versions.
LOCK_PLATFORM := --python-version 3.11 --python-platform x86_64-manylinux_2_28
PIP_SOURCES = $(foreach d,$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null),\
	--find-links $(d)) $(foreach u,$(shell $(PYTHON) -m pip config get global.extra-index-url \
	2>/dev/null),--extra-index-url $(u))
UV_COMPILE = $(VENV)/bin/uv pip compile -q pyproject.toml $(LOCK_PLATFORM) \
	--index-strategy unsafe-best-match $(PIP_SOURCES) -c requirements/constraints.txt \
	--custom-compile-command 'make lock'

lock:
	test -x $(VENV)/bin/uv || { test -x $(PY) || $(PYTHON) -m venv $(VENV); $(PY) -m pip install -q uv; }
	$(UV_COMPILE) --extra dev --generate-hashes $(LOCK_ARGS) -o $(LOCK)
	$(UV_COMPILE) -c $(LOCK) --no-annotate -o $(RUNTIME_LOCK)

# The demo corpus is the dvc.yaml stage demo_data; the flow runs every stage that is stale.
demo: $(VENV)/.installed
	$(PY) flows/training.py

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
