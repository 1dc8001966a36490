# ChronosOps — every target sets up what it needs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
# Test processes (pytest-xdist): `auto` is one per CPU; 0 runs the suite in this process.
PYTEST_WORKERS ?= auto

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ChronosOps needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

.PHONY: install
install: $(STAMP) ## create .venv and install ChronosOps with its dev tools

.PHONY: run
run: $(STAMP) ## serve on http://127.0.0.1:8080 with the embedded SQLite under ./data
	$(BIN)/chronosops serve --embedded

.PHONY: test
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE, as on
# the development machine): each worker, each `chronosops` process a test starts and the second
# CI pass then reads the compiled modules and pytest's rewritten tests instead of compiling them
# again (about 7 s of CPU per worker's collection). __pycache__ is ignored by git.
test: $(STAMP) ## run the test suite in parallel (on PostgreSQL when CHRONOSOPS_TEST_DATABASE_URL is set)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff: lint and formatting
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

.PHONY: fmt
fmt: $(STAMP) ## format the code and apply safe lint fixes
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

.PHONY: types
types: $(STAMP) ## mypy --strict over src, and over tests with untyped helpers allowed
	$(BIN)/mypy

.PHONY: imports
imports: $(STAMP) ## import-linter: the layer contracts of DESIGN.md
	$(BIN)/lint-imports

.PHONY: bench
bench: $(STAMP) ## benchmarks as tables: ingest under wrk beside a floor app (BENCH_DATABASE_URL adds PostgreSQL, BENCH_MEMORY_INGESTS=N samples memory over N more ingests), answers while a collector hangs, analysis, log templates (Loghub-2k), real incidents (Nezha)
	$(BIN)/python -m benchmarks.wrk_ingest $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL)) $(if $(BENCH_MEMORY_INGESTS),--memory-ingests $(BENCH_MEMORY_INGESTS))
	$(BIN)/python -m benchmarks.hanging_collector $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))
	$(BIN)/chronosops bench analysis
	$(BIN)/chronosops bench logs
	$(BIN)/chronosops bench nezha

.PHONY: bench-console
bench-console: $(STAMP) ## benchmark: the console's incident list with 100k incidents, as a table
	$(BIN)/python -m benchmarks.console

.PHONY: bench-shared
bench-shared: $(STAMP) ## benchmark: rate-limit checks and replayed deliveries with and without Redis (BENCH_REDIS_URL, default db 5; BENCH_DATABASE_URL for PostgreSQL)
	$(BIN)/python -m benchmarks.shared_state $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL)) $(if $(BENCH_REDIS_URL),--redis-url $(BENCH_REDIS_URL))

.PHONY: check
check: lint types imports test ## everything CI runs

.PHONY: clean
clean: ## remove the virtualenv, caches and the embedded database
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
