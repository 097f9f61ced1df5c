# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit test-scaleout bench-cluster install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(STAMP_DEV): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

demo: $(STAMP_RUN)
	$(BIN)/zaslon demo

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

unit: $(STAMP_DEV)
	scripts/ensure-chromium.sh
	scripts/with-postgres.sh $(BIN)/python -m pytest -m "not scaleout"

# The scale-out shape on real components: a throwaway PostgreSQL and nats-server (Debian's package, installed
# by scripts/with-nats.sh when missing); the tests start their own workers, API nodes and servers to kill.
test-scaleout: $(STAMP_DEV)
	scripts/with-postgres.sh scripts/with-nats.sh $(BIN)/python -m pytest -m scaleout tests/adapters/bus

bench-cluster: $(STAMP_RUN)
	scripts/with-postgres.sh scripts/with-nats.sh $(BIN)/zaslon bench cluster --workers 1,2 --seconds 20 \
	  --json bench/cluster.json

test: lint typecheck unit test-scaleout

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
