"""Time `reck8s up` (both environments Ready) against a bare `kwokctl create cluster`, and
record the control plane's peak memory.

Run from the repository root after `make setup`:

    .venv/bin/python bench/up_vs_kwokctl.py [--runs 3]

Both commands start the same pinned binaries on loopback. Each run creates a
fresh cluster and removes it afterwards; removal is not timed. Peak memory is
each component's VmHWM (peak resident set) read from /proc just before the
cluster is removed, so it covers the whole `up`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reck8s.cluster import Cluster  # noqa: E402
from reck8s.toolchain import load_pins, require_cluster_tools  # noqa: E402

UP_CLUSTER = "bench-up"
BARE_CLUSTER = "bench-bare"


def peak_memory_mib(cluster: Cluster) -> dict[str, float]:
    peaks = {}
    for component, pid in cluster.pids().items():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[component] = int(line.split()[1]) / 1024
    return peaks


def time_up(tools: dict[str, Path]) -> tuple[float, dict[str, float]]:
    cluster = Cluster(UP_CLUSTER, tools)
    command = [str(ROOT / ".venv/bin/reck8s"), "--cluster", UP_CLUSTER, "up"]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    peaks = peak_memory_mib(cluster)
    cluster.delete()
    return elapsed, peaks


def time_bare(tools: dict[str, Path]) -> float:
    cluster = Cluster(BARE_CLUSTER, tools)
    command = [
        str(tools["kwokctl"]), "create", "cluster", "--name", BARE_CLUSTER, "--runtime", "binary",
        "--kube-apiserver-binary", str(tools["kube-apiserver"]),
        "--kube-controller-manager-binary", str(tools["kube-controller-manager"]),
        "--kube-scheduler-binary", str(tools["kube-scheduler"]),
        "--kwok-controller-binary", str(tools["kwok"]),
        "--etcd-binary", str(tools["etcd"]),
        "--kubeconfig", str(cluster.workdir / f"{BARE_CLUSTER}.kubeconfig"),
        "--wait", "120s",
    ]
    env = dict(os.environ, KWOK_WORKDIR=str(cluster.workdir))
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    cluster.delete()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="counted runs of each command (default: 3)")
    args = parser.parse_args()
    tools = require_cluster_tools(load_pins(ROOT))

    up_seconds, bare_seconds, peaks = [], [], []
    for _ in range(args.runs):
        elapsed, peak = time_up(tools)
        up_seconds.append(elapsed)
        peaks.append(peak)
        bare_seconds.append(time_bare(tools))

    up_median, bare_median = statistics.median(up_seconds), statistics.median(bare_seconds)
    print(f"reck8s up (dev and prod Ready):     {up_median:.1f} s median of {args.runs}")
    print(f"kwokctl create cluster (bare):      {bare_median:.1f} s median of {args.runs}")
    print(f"ratio up / bare:                    {up_median / bare_median:.1f}")
    print("control plane peak resident memory, MiB (max over runs):")
    for component in sorted(peaks[0]):
        print(f"  {component:26} {max(p[component] for p in peaks):7.0f}")
    print(f"  {'sum of the peaks':26} {max(sum(p.values()) for p in peaks):7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
