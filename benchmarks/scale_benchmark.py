"""How the offline plan scales with a venue's teams, and over many venues at once.

    .venv/bin/python benchmarks/scale_benchmark.py [--venues 100] [--processes 2]

1. Venues of 1, 10 and 30 teams (Pulumi.venue-ams.yaml with teamCount set), each planned, and
   each variant below timed, in a fresh process: wall time, peak memory, time per resource, and the ratio to the Pulumi
   SDK registering the same number of bare resources under the same mocks and monitor; and
   the same plan ended with the SDK's own wait_for_rpcs instead of offline/quiescence.py's
   (sdk-wait s), registered with the SDK's own stack traces instead of offline/stack_traces.py's
   empty ones (sdk-trace s), and collected at the interpreter's default thresholds instead of
   offline/gc_tuning.py's (default-gc s). The bare resources are registered twice: in an offline
   run as the plan is (bare s, ratio), and as the SDK does it untuned, with its own wait, stack
   traces and thresholds (sdk-bare s, sdk-ratio: the plan against that).
2. `--venues` venues of 30 teams planned by `--processes` worker processes in parallel
   (what CI would do for every venue of an event): total wall time, time per venue and
   per resource, and the largest worker's peak memory.
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import gc, json, resource, sys, time
import pulumi
from offline import gc_tuning, quiescence, recording, stack_traces
from offline.plan import make_plan
from infra.stack_config import PROJECT
teams, variant, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
make_plan("dev")  # imports and first-run set-up, paid by every plan, kept out of every timing
gc.collect()
if variant in ("sdk-wait", "sdk-bare"):
    quiescence.offline_wait = quiescence.SDK_WAIT
if variant in ("sdk-trace", "sdk-bare"):
    stack_traces.offline_stack_trace = stack_traces.SDK_STACK_TRACE
if variant in ("default-gc", "sdk-bare"):
    gc_tuning.offline_thresholds = None
t = time.perf_counter()
if variant in ("bare", "sdk-bare"):
    bare = lambda: [pulumi.CustomResource("bench:index:Bare", f"r{i}", {}) for i in range(count)]
    n = len(recording.record(bare, project=PROJECT, stack="bare").resources)
else:
    n = len(make_plan("venue-ams", overrides={"teamCount": teams}).recording.resources)
print(json.dumps({"s": time.perf_counter() - t, "resources": n,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def venue(index: int) -> tuple[float, int]:
    from offline.plan import make_plan

    started = time.perf_counter()
    plan = make_plan("venue-ams", overrides={"teamCount": "30", "environment": f"v{index:03d}"})
    return time.perf_counter() - started, len(plan.recording.resources)


HEAD = (
    "teams", "resources", "plan s", "ms/res", "bare s", "ratio", "sdk-bare s", "sdk-ratio",
    "sdk-wait s", "sdk-trace s", "default-gc s", "peak MiB", "wall s",
)  # fmt: skip
WIDTHS = (5, 9, 7, 7, 7, 6, 10, 9, 10, 11, 12, 9, 7)
VARIANTS = ("bare", "sdk-bare", "sdk-wait", "sdk-trace", "default-gc")


def child(teams: int, variant: str, count: int = 0) -> tuple[dict[str, Any], float]:
    """One timing in a process of its own, so that no variant inherits another's heap or garbage."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(teams), variant, str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def sizes() -> None:
    print(" ".join(f"{h:>{w}}" for h, w in zip(HEAD, WIDTHS, strict=True)))
    for teams in (1, 10, 30):
        plan, wall = child(teams, "plan")
        n, s = plan["resources"], {v: child(teams, v, plan["resources"])[0]["s"] for v in VARIANTS}
        print(
            f"{teams:5} {n:9} {plan['s']:7.2f} {1000 * plan['s'] / n:7.1f} "
            f"{s['bare']:7.2f} {plan['s'] / s['bare']:6.1f} {s['sdk-bare']:10.2f} "
            f"{plan['s'] / s['sdk-bare']:9.1f} {s['sdk-wait']:10.2f} {s['sdk-trace']:11.2f} {s['default-gc']:12.2f} "
            f"{plan['peak_rss_mib']:9.0f} {wall:7.1f}"
        )
    print("each figure in a fresh process; the s columns exclude imports, wall s is the plan's whole process")


def many(venues: int, processes: int) -> None:
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(venue, range(venues), chunksize=1)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    times = [t for t, _ in results]
    total = sum(n for _, n in results)
    print(
        f"\n{venues} venues of 30 teams, {processes} processes: {wall:.1f} s wall, {total} resources; "
        f"per venue median {statistics.median(times):.2f} s (max {max(times):.2f} s), "
        f"{1000 * wall / total:.2f} ms wall per resource; largest worker peak {peak:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venues", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    sizes()
    if args.venues > 0:  # --venues 0: the sizes alone
        many(args.venues, args.processes)


if __name__ == "__main__":
    main()
