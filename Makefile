# The two commands of the README are `make check` and `make test`; both
# install what they need first. Builds and schemas are cached under
# ~/.cache/reck8s (set RECK8S_CACHE to move it), the Go module and build
# caches under Go's own defaults, so only the first run is slow.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: all setup check test clean

all: check

$(BIN)/reck8s: pyproject.toml
	@command -v go >/dev/null || { echo "make: Go is not on PATH; install Go 1.26 or newer (https://go.dev/dl/)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

setup: $(BIN)/reck8s
	$(BIN)/reck8s setup

check: setup
	$(BIN)/reck8s check

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) src/*.egg-info
