"""How the offline plan scales with a venue's teams, and over many venues at once.

    .venv/bin/python benchmarks/scale_benchmark.py [--venues 100] [--processes 2]

1. Venues of 1, 10 and 30 teams (Pulumi.venue-ams.yaml with teamCount set), each planned in
   a fresh process: wall time, peak memory, time per resource, and the ratio to the Pulumi
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
import pulumi
from offline import gc_tuning, quiescence, recording, stack_traces
from offline.plan import make_plan
from infra.stack_config import PROJECT
teams = sys.argv[1]
make_plan("dev")  # imports and first-run set-up, paid by every plan, kept out of both timings
t = time.perf_counter()
plan = make_plan("venue-ams", overrides={"teamCount": teams})
plan_s = time.perf_counter() - t
n = len(plan.recording.resources)
bare = lambda: [pulumi.CustomResource("bench:index:Bare", f"r{i}", {}) for i in range(n)]
def timed(what, **put):  # `what` with the module attributes `put` ("module.name": value) for once
    saved = {k: getattr(sys.modules[k.rsplit(".", 1)[0]], k.rsplit(".", 1)[1]) for k in put}
    for k, v in put.items(): setattr(sys.modules[k.rsplit(".", 1)[0]], k.rsplit(".", 1)[1], v)
    t = time.perf_counter()
    what()
    for k, v in saved.items(): setattr(sys.modules[k.rsplit(".", 1)[0]], k.rsplit(".", 1)[1], v)
    return time.perf_counter() - t
venue = lambda: make_plan("venue-ams", overrides={"teamCount": teams})
untuned = {"offline.quiescence.offline_wait": quiescence.SDK_WAIT,
           "offline.stack_traces.offline_stack_trace": stack_traces.SDK_STACK_TRACE,
           "offline.gc_tuning.offline_thresholds": None}
r = {"teams": int(teams), "resources": n, "plan_s": plan_s,
     "bare_s": timed(lambda: recording.record(bare, project=PROJECT, stack="bare")),
     "sdk_bare_s": timed(lambda: recording.record(bare, project=PROJECT, stack="bare"), **untuned),
     "trace_s": timed(venue, **{"offline.stack_traces.offline_stack_trace": stack_traces.SDK_STACK_TRACE}),
     "gc_s": timed(venue, **{"offline.gc_tuning.offline_thresholds": None}),
     "sdk_s": timed(venue, **{"offline.quiescence.offline_wait": quiescence.SDK_WAIT})}
r["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(r))
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


def sizes() -> None:
    print(" ".join(f"{h:>{w}}" for h, w in zip(HEAD, WIDTHS, strict=True)))
    for teams in (1, 10, 30):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(teams)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        wall = time.perf_counter() - started
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{r['teams']:5} {r['resources']:9} {r['plan_s']:7.2f} {1000 * r['plan_s'] / r['resources']:7.1f} "
            f"{r['bare_s']:7.2f} {r['plan_s'] / r['bare_s']:6.1f} {r['sdk_bare_s']:10.2f} "
            f"{r['plan_s'] / r['sdk_bare_s']:9.1f} {r['sdk_s']:10.2f} {r['trace_s']:11.2f} {r['gc_s']:12.2f} "
            f"{r['peak_rss_mib']:9.0f} {wall:7.1f}"
        )
    print("plan s and bare s exclude imports; wall s is the whole process")


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
