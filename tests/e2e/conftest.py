"""A local cluster for the end-to-end tests: real control plane, KWOK nodes, both environments applied."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reck8s.cluster import Cluster
from reck8s.errors import UsageError
from reck8s.toolchain import load_pins, require_cluster_tools

REPO_ROOT = Path(__file__).resolve().parents[2]
# One name per test run, so two runs on one machine never share a cluster.
E2E_CLUSTER = f"reck8s-e2e-{os.getpid()}"


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the reck8s CLI from the repository root, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "reck8s", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"reck8s {' '.join(args)} exited {result.returncode}:\n{result.stderr}", pytrace=False)
    return result


def cluster_named(name: str) -> Cluster:
    """Return a handle on a local cluster, or fail naming `make setup` when the tools are not built."""
    try:
        return Cluster(name, require_cluster_tools(load_pins(REPO_ROOT)))
    except UsageError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def up_output() -> Iterator[subprocess.CompletedProcess[str]]:
    """Start the e2e cluster with both environments, and remove it after the session."""
    cluster = cluster_named(E2E_CLUSTER)
    if cluster.exists():
        run_cli("--cluster", E2E_CLUSTER, "down")
    try:
        yield run_cli("--cluster", E2E_CLUSTER, "up")
    finally:
        run_cli("--cluster", E2E_CLUSTER, "down", check=False)


@pytest.fixture(scope="session")
def cluster(up_output: subprocess.CompletedProcess[str]) -> Cluster:
    return cluster_named(E2E_CLUSTER)
