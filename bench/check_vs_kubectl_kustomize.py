"""Time `reck8s check` of every environment against a bare `kubectl kustomize` of the same overlays.

Run from the repository root after `make setup`:

    .venv/bin/python bench/check_vs_kubectl_kustomize.py [--runs 7]

After one warm-up of each, the two commands run in turn (A B A B ...), so a
drift in the machine's speed affects both alike. Prints the median wall time
and the median peak resident memory of each, and the ratio of the medians.
The baseline is the pinned kubectl, whose embedded kustomize is the version
`check` uses.
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

from reck8s.render import OVERLAYS, environments  # noqa: E402
from reck8s.toolchain import load_pins, require_cluster_tools  # noqa: E402


def run_once(commands: list[list[str]]) -> tuple[float, float]:
    """Run the commands one after another; return the wall seconds and the largest peak RSS in MiB."""
    peak_kib = 0
    start = time.perf_counter()
    for command in commands:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        _, _, usage = os.wait4(process.pid, 0)
        # os.wait4 reaped the process; tell Popen, so it does not wait for it again.
        process.returncode = 0
        peak_kib = max(peak_kib, usage.ru_maxrss)
    return time.perf_counter() - start, peak_kib / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="counted runs of each command (default: 7)")
    args = parser.parse_args()

    kubectl = str(require_cluster_tools(load_pins(ROOT))["kubectl"])
    baseline = [[kubectl, "kustomize", str(ROOT / OVERLAYS / env)] for env in environments(ROOT)]
    check = [[str(ROOT / ".venv/bin/reck8s"), "check"]]

    run_once(check)
    run_once(baseline)
    check_runs, baseline_runs = [], []
    for _ in range(args.runs):
        check_runs.append(run_once(check))
        baseline_runs.append(run_once(baseline))

    check_s = statistics.median(r[0] for r in check_runs)
    baseline_s = statistics.median(r[0] for r in baseline_runs)
    print(f"reck8s check (all environments):   {check_s:.3f} s, "
          f"{statistics.median(r[1] for r in check_runs):.0f} MiB peak (medians of {args.runs})")
    print(f"kubectl kustomize (same overlays): {baseline_s:.3f} s, "
          f"{statistics.median(r[1] for r in baseline_runs):.0f} MiB peak (medians of {args.runs})")
    print(f"ratio of the wall times:           {check_s / baseline_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
