"""Shared fixtures: the repository root, English messages and the pinned tools."""
from __future__ import annotations

from pathlib import Path

import pytest

from reck8s.errors import UsageError
from reck8s.toolchain import Pins, load_pins, require_kustomize, require_schemas

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Select English messages, for this process and the CLI it starts, whatever the user's locale is."""
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(scope="session")
def pinned_tools() -> Pins:
    """Return the pins after checking that kustomize and the schemas are in the cache.

    A missing tool fails the test with reck8s's own message, which names `make setup`.
    """
    try:
        pins = load_pins(REPO_ROOT)
        require_kustomize(pins)
        require_schemas(pins)
    except UsageError as error:
        pytest.fail(str(error), pytrace=False)
    return pins


@pytest.fixture(scope="session")
def schema_store():
    """Load the pinned schemas the way `reck8s check` does, or fail naming `make setup`."""
    from reck8s.schema import SchemaStore

    try:
        openapi_dir, crd_files = require_schemas(load_pins(REPO_ROOT))
    except UsageError as error:
        pytest.fail(str(error), pytrace=False)
    return SchemaStore.load(openapi_dir, crd_files)
