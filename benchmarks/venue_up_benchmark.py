"""Where the time of the 30-team venue's first `pulumi up` goes, under the real CLI.

    .venv/bin/python benchmarks/venue_up_benchmark.py [--stack venue-ams] [--skip-checkpoints]

Deploys the stack once as tests/test_engine.py does (a workspace of its own with the stand-in
providers, its real control plane and the real Kubernetes provider, local registries), with the
CLI's own profiler on (`pulumi up --profiling PREFIX`, pulumi/cmd/pulumi/pulumi.go: a CPU
profile of the CLI's process), and prints:
- the wall time of the `up` and the CPU seconds of every process of the machine while it ran
  (from /proc, by kind: the CLI, the program, the providers, the control plane);
- the CLI's hottest functions (`go tool pprof -top`), with the share spent saving the state:
  the diy backend writes the whole snapshot again for every step, at its start and at its end
  (pkg/backend/snapshot.go; journaling, which writes a step's change only, is Pulumi Cloud's:
  pulumi/pulumi#22075 asks it for diy backends).
`--skip-checkpoints` runs the same `up` with PULUMI_SKIP_CHECKPOINTS=true (pulumi/pulumi#10750:
the state is saved once, at the end), to compare. Needs scripts/build-pulumi and
scripts/build-kube done. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.config import offline_files  # noqa: E402
from tests.support.engine import REPOSITORY, Workspace, cli_bin, local_registries, secret_value  # noqa: E402
from tests.support.local_registry import LocalRegistry, layer, push_image  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every process's command and CPU seconds so far (user and system, /proc/PID/stat)."""
    seen = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seen[int(entry.name)] = (command, (int(fields[11]) + int(fields[12])) / TICKS)
    return seen


def kind(command: str) -> str:
    for needle, name in (
        ("standin_provider.py", "stand-in providers (Python)"),
        ("pulumi-resource-kubernetes", "the Kubernetes provider"),
        ("pulumi-language-python-exec", "the program (Python, under the SDK)"),
        ("pulumi-language-python", "the language host"),
        ("kube-apiserver", "kube-apiserver"),
        ("etcd", "etcd"),
        ("kube-controller-manager", "kube-controller-manager"),
        ("kube-scheduler", "kube-scheduler"),
        ("kwok", "kwok"),
    ):
        if needle in command:
            return name
    if command.split(" ", 1)[0].endswith("/pulumi") or command.startswith("pulumi "):
        return "the CLI (the engine)"
    return "other"


class Sampler:
    """CPU seconds per kind of process between start and stop, from samples every second (a
    process that starts and ends between two samples is missed; the `up`'s are long-lived)."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.base = cpu_by_process()

    def sample(self) -> None:
        for pid, (command, cpu) in cpu_by_process().items():
            if pid not in self.first:
                self.first[pid] = self.base.get(pid, ("", 0.0))[1]
            # An exited process not yet waited for has an empty cmdline: keep the name it had.
            self.last[pid] = (command or self.last.get(pid, ("", 0.0))[0], cpu)

    def totals(self) -> collections.Counter[str]:
        spent: collections.Counter[str] = collections.Counter()
        for pid, (command, cpu) in self.last.items():
            spent[kind(command)] += cpu - self.first[pid]
        return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="venue-ams")
    parser.add_argument("--skip-checkpoints", action="store_true")
    args = parser.parse_args()
    stack = args.stack
    base = Path(tempfile.mkdtemp(prefix="venue-up-"))
    dev = LocalRegistry("dev", base / "registries" / "dev").start()
    prod = LocalRegistry("prod", base / "registries" / "prod").start()
    push_image(dev.client(), REPOSITORY, [layer("venue-up-benchmark")])
    workspace = Workspace.create(base / "workspace", cli_bin(), clusters=(stack,))
    try:
        workspace.env["MUSICSTORE_STANDIN_REGISTRIES"] = local_registries(dev, prod)
        secrets = {key.split(":", 1)[1]: secret_value(stack, key) for key in offline_files(stack).placeholders}
        ends = f"{datetime.now(UTC) + timedelta(days=30):%Y-%m-%dT%H:%M:%SZ}"
        workspace.init(stack, secrets, {"expiresAt": ends})
        prefix = base / "cli"
        env = {"PULUMI_SKIP_CHECKPOINTS": "true"} if args.skip_checkpoints else {}
        sampler = Sampler()
        command = ["pulumi", "up", "--yes", "--stack", stack, "--profiling", str(prefix)]
        started = time.monotonic()
        # To a file, not a pipe: nobody reads a pipe while the up runs, and a full one stops the CLI.
        with (
            (base / "up.out").open("w") as log,
            subprocess.Popen(
                command, cwd=workspace.project, env={**workspace.env, **env}, stdout=log, stderr=subprocess.STDOUT
            ) as up,
        ):
            while up.poll() is None:
                sampler.sample()
                time.sleep(1)
        wall = time.monotonic() - started
        out = (base / "up.out").read_text()
        summary = out.rsplit("Resources:", 1)[-1].split("Duration:")[0].split()
        print(f"pulumi up {stack}{' (PULUMI_SKIP_CHECKPOINTS)' if env else ''}: exit {up.returncode}, {wall:.0f} s")
        print(f"  resources: {' '.join(summary)}")
        spent = sampler.totals()
        for name, seconds in spent.most_common():
            print(f"  {seconds:7.0f} CPU s  {seconds / wall:4.2f} cores  {name}")
        print(f"  {sum(spent.values()):7.0f} CPU s  {sum(spent.values()) / wall:4.2f} cores  in all")
        state = workspace.state / ".pulumi" / "stacks" / "musicstore" / f"{stack}.json"
        if state.exists():
            print(f"  the state written: {state.stat().st_size / 2**20:.1f} MiB")
        profile = next(base.glob("cli.*.cpu"), None)
        go = shutil.which("go")
        if profile and go:
            top = subprocess.run(
                [go, "tool", "pprof", "-top", "-cum", "-nodecount=40", str(profile)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            print("the CLI's CPU profile, by cumulative time (go tool pprof -top -cum):")
            print(top)
        for trace in base.glob("cli.*.trace"):
            trace.unlink()  # the execution trace: large, and not read here
        print(f"kept in {base}")
    finally:
        workspace.close()
        dev.stop()
        prod.stop()


if __name__ == "__main__":
    main()
