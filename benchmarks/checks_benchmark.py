"""How long the checks take, on a fresh clone: the table of the issue "Checks in minutes".

    .venv/bin/python benchmarks/checks_benchmark.py [--cold] [--steps plan,test,scale]

Clones this repository's HEAD into a temporary folder (`../shared` copied beside it, as CI has
it) and times there, each as a user or CI types it:
- plan:  `scripts/plan dev`, the README's first command, its set-up included (uv, the venv, the
         lock's packages);
- test:  `scripts/test`, the README's second command and CI's, whole (the Pulumi CLI's and
         Kubernetes' builds included), with the times of its two pytest phases, which it prints;
- scale: `benchmarks/scale_benchmark.py --venues 0`, the 30-team venue against the bare SDK.
`--cold` gives the clone empty caches of its own (Go's modules and builds: GOMODCACHE, GOCACHE;
uv's and pip's: UV_CACHE_DIR, PIP_CACHE_DIR), so the figures are a new machine's, Debian's
packages aside (installed once per machine by `scripts/bootstrap --system`). The machine's own
caches are left as they are. The logs stay in the temporary folder, which the table names.
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scale_benchmark  # benchmarks/, beside this file

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
COMMANDS = {
    "plan": ["scripts/plan", "dev"],
    "test": ["scripts/test"],
    "scale": [".venv/bin/python", "benchmarks/scale_benchmark.py", "--venues", "0"],
}


def clone(base: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(base / "main")], check=True)
    if SHARED.is_dir():
        shutil.copytree(SHARED, base / "shared")
    return base / "main"


def cold_environment(base: Path) -> dict[str, str]:
    names = ("GOMODCACHE", "GOCACHE", "UV_CACHE_DIR", "PIP_CACHE_DIR")
    caches = {name: base / "caches" / name.lower() for name in names}
    for folder in caches.values():
        folder.mkdir(parents=True)
    return {**os.environ, **{name: str(folder) for name, folder in caches.items()}}


def run(step: str, clone_dir: Path, env: dict[str, str], logs: Path) -> tuple[float, int, str]:
    log = logs / f"{step}.log"
    if step == "scale" and not (clone_dir / ".venv").exists():  # set up first, untimed
        subprocess.run(["scripts/bootstrap"], cwd=clone_dir, env=env, capture_output=True, check=True)
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(COMMANDS[step], cwd=clone_dir, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    return time.perf_counter() - started, done.returncode, log.read_text(errors="replace")


def phases(output: str) -> str:
    """What scripts/test says of its phases: each pytest summary, and its own times line."""
    found = re.findall(r"=+ (\d+ passed[^=]*) =+", output)
    times = re.search(r"== times: (.*)", output)
    return "; ".join([*found, *([times.group(1)] if times else [])])


def thirty_teams(output: str) -> str:
    """scale_benchmark's row of the 30-team venue, each figure with its column's name."""
    row = next((line.split() for line in output.splitlines() if line.split()[:1] == ["30"]), None)
    if row is None or len(row) != len(scale_benchmark.HEAD):
        return last_line(output)
    return ", ".join(f"{name} {value}" for name, value in zip(scale_benchmark.HEAD, row, strict=True))


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1] if output.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="empty Go, uv and pip caches of the clone's own")
    parser.add_argument("--steps", default="plan,test,scale", help="which of plan, test, scale (comma-separated)")
    args = parser.parse_args()
    steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(steps) - set(COMMANDS))
    if unknown:
        parser.error(f"--steps: unknown {', '.join(unknown)} (known: {', '.join(COMMANDS)})")
    base = Path(tempfile.mkdtemp(prefix="checks-benchmark-"))
    clone_dir = clone(base)
    env = cold_environment(base) if args.cold else dict(os.environ)
    caches = "empty caches" if args.cold else "the machine's caches"
    print(f"fresh clone of {ROOT} in {base}, {caches}", flush=True)
    print("| step | command | s | exit | what it printed |\n|---|---|---:|---:|---|", flush=True)
    for step in steps:
        seconds, status, output = run(step, clone_dir, env, base)
        said = {"test": phases, "scale": thirty_teams}.get(step, last_line)(output)
        print(f"| {step} | `{' '.join(COMMANDS[step])}` | {seconds:.0f} | {status} | {said[:300]} |", flush=True)
    print(f"logs: {base}/<step>.log")
    sys.exit(0)


if __name__ == "__main__":
    main()
