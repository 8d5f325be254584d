"""Wall time, peak memory and time per resource of the offline plan.

    .venv/bin/python benchmarks/plan_benchmark.py [STACK ...] [--repeat N]

Each run is a fresh process (imports included, as a user's `scripts/plan` pays them), and
reports its wall time, the process's peak resident memory, and the registration time per
resource measured inside the plan. Numbers are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from offline.plan import make_plan
t1 = time.perf_counter()
stamps = {}
plan = make_plan(sys.argv[1], progress=lambda stack, n: stamps.setdefault(stack, []).append(time.perf_counter()))
t2 = time.perf_counter()
own = len(plan.recording.resources)
# A StackReference is read, not registered, and reports no progress: pair registrations only.
registered = [r for r in plan.recording.resources.values() if r.type != "pulumi:pulumi:StackReference"]
times = stamps[sys.argv[1]]
print(json.dumps({
    "import_s": t1 - t0,
    "plan_s": t2 - t1,
    "resources": own,
    "resources_with_references": own + sum(len(r.recording.resources) for r in plan.references.values()),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    # Own resources only: time from the previous registration to this one.
    "per_resource": [[r.type, r.name, (b - a) * 1000] for r, a, b in zip(registered, [times[0], *times[:-1]], times)],
}))
"""


def measure(stack: str) -> dict[str, object]:
    started = __import__("time").perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, stack], cwd=ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = __import__("time").perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", default=["dev"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'stack':8} {'runs':>4} {'wall s':>8} {'import s':>9} {'plan s':>8} {'resources':>9} "
        f"{'ms/resource':>11} {'peak MiB':>9}"
    )
    details: list[tuple[str, object]] = []
    for stack in args.stacks:
        runs = [measure(stack) for _ in range(args.repeat)]
        details.append((stack, runs[-1]["per_resource"]))
        med = {k: statistics.median(float(r[k]) for r in runs) for k in runs[0] if k != "per_resource"}
        per = 1000 * med["plan_s"] / med["resources_with_references"]
        print(
            f"{stack:8} {len(runs):4} {med['wall_s']:8.2f} {med['import_s']:9.2f} {med['plan_s']:8.2f} "
            f"{int(med['resources']):9} {per:11.1f} {med['peak_rss_mib']:9.0f}"
        )
    print("medians; ms/resource = plan time / resources registered (referenced stacks included)")
    for stack, rows in details:
        print(f"\ntime per resource, {stack}, last run (ms from the previous registration of the stack)")
        for typ, name, ms in rows:  # type: ignore[attr-defined]
            print(f"  {ms:8.1f}  {typ}  {name}")


if __name__ == "__main__":
    main()
