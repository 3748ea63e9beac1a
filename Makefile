# The README's two commands are `make up` and `make test`; both install what
# they need first. Builds and schemas are cached under ~/.cache/reck8s (set
# RECK8S_CACHE to move it), Go's module and build caches under Go's own
# defaults, so only the first run is slow.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: all setup setup-check up status down check test clean

all: up

$(BIN)/reck8s: pyproject.toml
	@command -v go >/dev/null || { echo "make: Go is not on PATH; install Go 1.26 or newer (https://go.dev/dl/)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

# Everything: kustomize, the schemas, and the cluster tools built from source.
setup: $(BIN)/reck8s
	$(BIN)/reck8s setup

# Only what `check` needs: kustomize and the schemas.
setup-check: $(BIN)/reck8s
	$(BIN)/reck8s setup --check-only

up: setup
	$(BIN)/reck8s up

status: $(BIN)/reck8s
	$(BIN)/reck8s status

down: $(BIN)/reck8s
	$(BIN)/reck8s down

check: setup-check
	$(BIN)/reck8s check

test: setup
	$(BIN)/python -m pytest

clean: down
	rm -rf $(VENV) src/*.egg-info
