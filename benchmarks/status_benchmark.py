"""A round of `musicstore status` over an organizer's day of 30 teams, on the tests' real stand-ins.

    .venv/bin/python benchmarks/status_benchmark.py [--out DIR] [--rounds N]

The day is tests/test_status.py's: a docker-registry per team, the Azure DevOps endpoints and the
teams' apps in a process of their own (three apps hang past the timeout, one answers 503, one
address refuses), ARM's VM power endpoints. Each round runs the command as an organizer would
(`--json --board DIR/board.html`, then the table with `--board DIR/board.md`) and reports its wall
time and the seconds the probes took. Measured, never asserted. The boards, the table and the JSON
of the last round are left in DIR (default: a temporary folder, printed).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops import status  # noqa: E402 (after the path)
from tests.support.arm_compute import StaticToken  # noqa: E402
from tests.test_status import organizers_day  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="status-board-"))
    out.mkdir(parents=True, exist_ok=True)
    walls, probes = [], []
    with tempfile.TemporaryDirectory() as scratch, organizers_day(Path(scratch)) as day:
        print(f"30 registries started in {day.registries_seconds:.2f} s")
        with pytest.MonkeyPatch.context() as patch:
            day.environment(patch)
            for _ in range(args.rounds):
                for argv, saved in (
                    (day.argv("--json", "--board", str(out / "board.html")), out / "status.json"),
                    (day.argv("--board", str(out / "board.md")), out / "table.txt"),
                ):
                    captured, started = io.StringIO(), time.monotonic()
                    with redirect_stdout(captured):
                        code = status.main(argv, login=StaticToken())
                    walls.append(time.monotonic() - started)
                    saved.write_text(captured.getvalue(), encoding="utf-8")
                    if code != 0:
                        print(f"musicstore status exited {code}", file=sys.stderr)
                        return code
                probes.append(float(json.loads((out / "status.json").read_text())["seconds"]))
    print(f"{len(walls)} rounds of 30 teams: wall median {statistics.median(walls):.2f} s, max {max(walls):.2f} s;")
    print(f"probes (--json's seconds) median {statistics.median(probes):.2f} s, max {max(probes):.2f} s")
    print(f"board.html, board.md, table.txt and status.json in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
