"""Bad input and bad state around the local cluster: each gets a clear message and leaves nothing running."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from reck8s.cluster import Cluster

from tests.e2e.conftest import REPO_ROOT, cluster_named, run_cli


def owned_processes(cluster: Cluster) -> list[int]:
    """Return the PIDs of live processes whose command line names the cluster's folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(cluster.directory) in command_line:
            found.append(int(entry.name))
    return found


def test_down_leaves_nothing_running() -> None:
    cluster = cluster_named(f"reck8s-down-{os.getpid()}")
    run_cli("--cluster", cluster.name, "up", "dev")
    assert owned_processes(cluster), "up started no processes"

    result = run_cli("--cluster", cluster.name, "down")

    assert f"removed cluster {cluster.name}" in result.stderr
    assert owned_processes(cluster) == []
    assert not cluster.directory.exists()


def test_port_in_use_rejected() -> None:
    cluster = cluster_named(f"reck8s-port-{os.getpid()}")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        result = run_cli("--cluster", cluster.name, "up", "dev", "--api-port", str(port), check=False)

    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--api-port" in result.stderr
    assert not cluster.directory.exists()
    assert owned_processes(cluster) == []


def test_leftover_cluster_rejected() -> None:
    cluster = cluster_named(f"reck8s-stale-{os.getpid()}")
    # A PID that belonged to a process that has exited stands for a crashed component.
    probe = subprocess.Popen(["true"])
    probe.wait()
    pids = cluster.directory / "pids"
    pids.mkdir(parents=True)
    (pids / "kube-apiserver.pid").write_text(str(probe.pid))
    try:
        result = run_cli("--cluster", cluster.name, "up", "dev", check=False)

        assert result.returncode == 2
        assert "left over from an earlier run" in result.stderr
        assert f"reck8s --cluster {cluster.name} down" in result.stderr

        status = run_cli("--cluster", cluster.name, "status", check=False)
        assert status.returncode == 2
        assert "is not running: these components stopped: kube-apiserver" in status.stderr
    finally:
        run_cli("--cluster", cluster.name, "down")
    assert not cluster.directory.exists()


def _reck8s_without_cache(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reck8s", *args], cwd=REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, "RECK8S_CACHE": str(tmp_path / "cache"), **env}, timeout=300, check=False,
    )


def test_missing_go_reported(tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go, "Go is not on PATH; install Go 1.26 or newer (https://go.dev/dl/)"
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not Path(p, "go").exists())

    result = _reck8s_without_cache(tmp_path, {"PATH": path}, "setup")

    assert result.returncode == 2
    assert "the Go toolchain is not on PATH" in result.stderr
    assert "https://go.dev/dl/" in result.stderr


def test_failed_build_reported(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "tools", root / "tools")
    shutil.copytree(REPO_ROOT / "devops", root / "devops")
    go_mod = root / "tools" / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("sigs.k8s.io/kustomize/kustomize/v5 v5.8.1", "sigs.k8s.io/kustomize/kustomize/v5 v5.99.0"))

    # GOPROXY=off keeps Go from asking the network for the missing version.
    result = _reck8s_without_cache(tmp_path, {"GOPROXY": "off"}, "--root", str(root), "setup")

    assert result.returncode == 2
    assert "building kustomize failed" in result.stderr
    assert "Nothing was installed" in result.stderr
    assert list((tmp_path / "cache" / "bin").glob("kustomize*")) == []
