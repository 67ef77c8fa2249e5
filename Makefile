# CityLoop: `make run` runs the whole system, `make test` runs the tests. Both set everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export CITYLOOP_HOME ?= $(CURDIR)/.local
VENV := .venv
PY := $(VENV)/bin/python
ROOTS := libs/common services/intake services/router services/sla services/feedback

.PHONY: help setup venv infra browser bootstrap run test lint typecheck unit bench chaos k8s-validate observe trail-verify down clean distclean

help:
	@echo "make run    set up everything, then run the four services and the API gateway"
	@echo "make test   set up everything, then lint, type-check and run all tests on the real broker and database"
	@echo "make chaos DURATION=30m  the fault harness's long form (its own broker and PostgreSQL)"
	@echo "make bench  run the benchmarks (BENCH_SCALE=small: a minute each);  make k8s-validate  render and validate the Kubernetes manifests"
	@echo "make observe  a local Prometheus scraping the running services (make run) with the production alerts"
	@echo "make trail-verify  recompute the trail's hash chains: prints ok <n> entries, or names the first broken entry"
	@echo "make down   stop Kafka and PostgreSQL;  make clean  also delete their data;  make distclean  also the venv"

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	@echo "==> python virtual environment ($(VENV))"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install -q --disable-pip-version-check '.[dev]'
	@# One namespace package `cityloop` across libs/common and every service (see pyproject.toml).
	@site="$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" && \
		printf '%s\n' $(addprefix $(CURDIR)/,$(ROOTS)) > "$$site/cityloop.pth"
	@touch $@

infra: venv
	@scripts/infra/up.sh

bootstrap: infra
	@$(PY) scripts/bootstrap.py

setup: bootstrap

run: setup
	@$(PY) -m scripts.run_all

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy libs/common services scripts tests

unit: venv
	$(VENV)/bin/pytest tests/unit -q

# --durations: the slowest tests are listed at the end, to keep the whole run within its 20 minutes.
test: export CITYLOOP_PG_FAST = 1
test: lint typecheck k8s-validate infra browser
	$(VENV)/bin/pytest -q --durations=15

# The callback page's screenshot test renders it in headless Chromium; CJK fonts so the Chinese shows.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "==> chromium and fonts-noto-cjk (Debian packages)"; \
		$(SUDO) apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
			|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-noto-cjk; }; \
	fi

# Render deploy/k8s overlays with kustomize, validate every object against its real schema, and check and
# unit-test the alert rules with promtool (Debian's prometheus package, installed once if missing).
k8s-validate:
	deploy/k8s/validate.sh

# A local Prometheus (Debian's package) scraping the running services (make run) with the production alert
# rules; prints its address. `scripts/infra/prometheus.sh stop` stops it.
observe: venv
	@scripts/infra/prometheus.sh start

# Recompute every ticket's trail hash chain and the anchors over them (intake's database, CITYLOOP_* settings).
trail-verify: venv
	@$(PY) -m cityloop.intake.trail.verify

# The benchmarks (tests/bench/__main__.py): one table, also in $(CITYLOOP_HOME)/bench/results.json. Starts the
# services unless they already run; `make bench BENCH="intake e2e"` runs only those; BENCH_SCALE=small.
bench: setup
	$(PY) -m tests.bench $(BENCH)

# The fault harness's long form (issue 13) on a broker and PostgreSQL of its own (never the shared ones):
# `make chaos DURATION=30m` (also 90s, 1h30m; SEED=N repeats a run's fault plan). The short form runs in
# `make test` (tests/chaos/test_chaos.py).
DURATION ?= 30m
chaos: venv
	$(PY) -m tests.chaos --duration $(DURATION) $(if $(SEED),--seed $(SEED))

down:
	@scripts/infra/down.sh

clean: down
	@scripts/infra/postgres.sh destroy
	rm -rf $(CITYLOOP_HOME)

distclean: clean
	rm -rf $(VENV)
