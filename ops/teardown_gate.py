"""Decides which stacks the teardown workflow may destroy.

    musicstore gate STACK --confirm "destroy STACK"   (on demand)
    musicstore gate --expired                          (on schedule)

A stack may go on demand only with the typed confirmation `destroy <stack>`, on schedule
only once its `expiresAt` has passed; either way never while its config says
`teardownAllowed: false` (prod). Prints the verdicts; `--github-output FILE` appends
`stacks=<JSON list>` for the workflow's destroy matrix. Exit status 0 when at least one stack
may go (or, on schedule, none is due), 3 when a requested teardown is refused, 2 on bad input.
On schedule, a stack file that cannot be read is reported on its own line and the others are
still judged and written out; the exit status is then 4, so the run shows the failure while the
expired venues that can be read still go.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra import messages, stack_files
from infra.config import load_stack
from infra.stack_config import ConfigError, StackConfig


@dataclass(frozen=True)
class Verdict:
    stack: str
    allowed: bool
    reason: str


def load(stack: str, root: Path = stack_files.ROOT) -> StackConfig:
    """The stack as teardown reads it: never refused by a dated table or app/Dockerfile that
    moved on since the venue was made."""
    return load_stack(stack, root, deploying=False)


def on_demand(cfg: StackConfig, confirmation: str, *, allow_protected: bool = False) -> Verdict:
    expected = f"destroy {cfg.stack}"
    if not cfg.teardown_allowed:
        return Verdict(cfg.stack, False, "its config sets teardownAllowed: false")
    if cfg.protect_resources and not allow_protected:
        return Verdict(cfg.stack, False, "its resources are protected (protectResources); say so explicitly to go on")
    if confirmation.strip() != expected:
        return Verdict(cfg.stack, False, f"the confirmation must read exactly {expected!r}")
    return Verdict(cfg.stack, True, "confirmed")


def on_schedule(cfg: StackConfig, now: datetime) -> Verdict:
    if cfg.expires_at is None:
        return Verdict(cfg.stack, False, "it has no expiresAt")
    if cfg.expires_at > now:
        return Verdict(cfg.stack, False, f"it expires at {cfg.expires_at:%Y-%m-%dT%H:%M:%SZ}")
    if not cfg.teardown_allowed:
        return Verdict(cfg.stack, False, "expired, but its config sets teardownAllowed: false")
    if cfg.protect_resources:
        return Verdict(cfg.stack, False, "expired, but its resources are protected (protectResources)")
    return Verdict(cfg.stack, True, f"expired at {cfg.expires_at:%Y-%m-%dT%H:%M:%SZ}")


def main(argv: list[str] | None = None, *, now: datetime | None = None, root: Path = stack_files.ROOT) -> int:
    parser = messages.Parser(prog="musicstore gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", nargs="?")
    parser.add_argument("--confirm", default="")
    parser.add_argument("--expired", action="store_true", help="every stack whose expiresAt has passed")
    parser.add_argument("--github-output", type=Path)
    args = parser.parse_args(argv)
    if bool(args.stack) == args.expired:
        parser.error("name one STACK, or --expired")
    unreadable = 0
    if args.expired:
        moment = now or datetime.now(UTC)
        verdicts = []
        for stack in stack_files.stacks(root):
            try:
                verdicts.append(on_schedule(load(stack, root), moment))
            except (ConfigError, stack_files.StackFileError) as err:
                print(f"{stack}: kept, unreadable: {messages.error_line(err)}", file=sys.stderr)
                unreadable += 1
    else:
        try:
            verdicts = [on_demand(load(args.stack, root), args.confirm)]
        except (ConfigError, stack_files.StackFileError) as err:
            print(messages.error_line(err), file=sys.stderr)
            return 2
    for v in verdicts:
        print(f"{v.stack}: {'destroy' if v.allowed else 'keep'} ({v.reason})")
    chosen = [v.stack for v in verdicts if v.allowed]
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as out:
            out.write(f"stacks={json.dumps(chosen)}\n")
    if unreadable:
        return 4
    return 0 if chosen or args.expired else 3


if __name__ == "__main__":
    sys.exit(main())
