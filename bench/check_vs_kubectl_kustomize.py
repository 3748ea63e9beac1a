"""Time `reck8s check` of every environment against a bare `kubectl kustomize` of the same overlays.

Run from the repository root after `make setup`:

    .venv/bin/python bench/check_vs_kubectl_kustomize.py [--runs 5]

Prints the median wall time of each command over the runs (after one
warm-up) and the ratio of the medians. The baseline is the pinned kubectl,
whose embedded kustomize is the version `check` uses.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reck8s.render import OVERLAYS, environments  # noqa: E402
from reck8s.toolchain import load_pins, require_cluster_tools  # noqa: E402


def median_seconds(commands: list[list[str]], runs: int) -> float:
    samples = []
    for index in range(runs + 1):
        start = time.perf_counter()
        for command in commands:
            subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
        if index > 0:  # The first run warms the page cache and is not counted.
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each command (default: 5)")
    args = parser.parse_args()

    kubectl = str(require_cluster_tools(load_pins(ROOT))["kubectl"])
    builds = [[kubectl, "kustomize", str(ROOT / OVERLAYS / env)] for env in environments(ROOT)]
    check = [[str(ROOT / ".venv/bin/reck8s"), "check"]]

    check_s = median_seconds(check, args.runs)
    build_s = median_seconds(builds, args.runs)
    print(f"reck8s check (all environments): {check_s:.3f} s median of {args.runs}")
    print(f"kubectl kustomize (same overlays): {build_s:.3f} s median of {args.runs}")
    print(f"ratio check / kustomize:          {check_s / build_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
