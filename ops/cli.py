"""musicstore: the organizer's commands, one subcommand for each thing an organizer does.

    musicstore plan dev                      the offline plan of a stack
    musicstore handout venue-ams --outputs outputs.json --out handouts/
    musicstore teardown venue-ams --confirm "destroy venue-ams"
    musicstore up -s dev --yes               start dev's stopped build agents, then pulumi up
    musicstore status -s venue-ams --watch   every team's state, refreshed
    musicstore team add -s venue-ams         one team more, planned offline (--apply to carry it out)
    musicstore SUBCOMMAND --help             what each takes

Errors are one line, `error: ...`, naming the input, the value and the rule; exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from infra import messages, stack_config, stack_files
from infra.stack_config import ConfigError
from offline import diagram, prices
from offline.plan import PlanError, make_plan
from offline.render import document, render

PROGRESS_EVERY = 100


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PlanError(f"{option} takes KEY=VALUE, not {item!r}")
        pairs[key.removeprefix(f"{stack_config.PROJECT}:")] = value
    return pairs


def _progress(stack: str, count: int) -> None:
    if count % PROGRESS_EVERY == 0:
        print(f"planning {stack}: {count} resources registered", file=sys.stderr, flush=True)


def plan(argv: list[str] | None = None) -> int:
    """The offline plan of a stack: what `pulumi up` would create, priced, timed and checked."""
    parser = messages.Parser(prog="musicstore plan", description="The offline plan of a stack.")
    parser.add_argument("stack", help=f"stack to plan ({', '.join(stack_files.stacks())})")
    parser.add_argument(
        "--date",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="judge the stack on this day (its expiresAt from the day's start, its dated facts when it has"
        " no expiresAt); default: now",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the plan as JSON")
    parser.add_argument("--diagram", type=Path, metavar="DIR", help="write Mermaid, DOT and (with Graphviz) SVG/PNG")
    parser.add_argument("--prices", type=Path, metavar="FILE", help="a price table from musicstore prices refresh")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config value, as `pulumi config set` would"
    )
    parser.add_argument(
        "--set-secret", action="append", default=[], metavar="KEY=VALUE", help="a secret config value (--secret)"
    )
    args = parser.parse_args(argv)
    try:
        overrides, secrets = _pairs(args.set, "--set"), _pairs(args.set_secret, "--set-secret")
        table = prices.load(args.prices) if args.prices else None
        planned = make_plan(
            args.stack,
            overrides=overrides,
            secret_overrides=secrets,
            progress=_progress,
            price_table=table,
            today=args.date or datetime.now(UTC).date(),
            now=datetime.combine(args.date, datetime.min.time(), UTC) if args.date else datetime.now(UTC),
        )
    except (ConfigError, stack_files.StackFileError, PlanError, OSError, ValueError, KeyError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    sys.stdout.write(render(planned))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document(planned), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"\nJSON plan written to {args.json}")
    if args.diagram:
        written = diagram.write(planned.recording, planned.config.teams, args.diagram)
        print(f"\nDiagram written to {', '.join(str(p) for p in written)}")
        if not any(p.suffix == ".svg" for p in written):
            print("  (no SVG/PNG: Graphviz's `dot` is not installed; apt-get install graphviz)")
    print(f"\nPlanned {len(planned.recording.resources)} resources in {planned.seconds:.1f} s.")
    return 1 if planned.errors else 0


def up(argv: list[str] | None = None) -> int:
    """`pulumi up` once the stack's build agents run (ops.agents, imported only when asked for)."""
    from ops import agents

    return agents.up(argv)


# name: (what it does, where its main is)
COMMANDS: dict[str, tuple[str, str | Callable[[list[str] | None], int]]] = {
    "plan": ("the offline plan of a stack: resources, findings, cost, time, diagram, JSON", plan),
    "handout": ("one sheet per team from a stack's outputs", "ops.handout"),
    "teardown": ("destroy a stack and remove it, after its gate", "ops.teardown"),
    "status": ("every team's agent, last run, image, app and VM on one board", "ops.status"),
    "team": ("one team's operations, planned offline first: add, remove, replace-agent, rotate-password", "ops.team"),
    "agents": ("a stack's build agents: status, start, stop (deallocate)", "ops.agents"),
    "up": ("start the stack's stopped build agents, then pulumi up", up),
    "gate": ("which stacks the teardown workflow may destroy", "ops.teardown_gate"),
    "secrets": ("set a stack's required secrets from SECRET_<KEY> variables (CI)", "ops.secrets"),
    "tags": ("the image tags a build pushes", "ops.tags"),
    "prices": ("refresh the price table from the Azure Retail Prices API", "offline.prices"),
    "pr-comment": ("a pull-request comment from a plan or preview", "ops.pr_comment"),
    "dockerfile-check": ("the Dockerfile and every stack agree on the Windows release", "ops.dockerfile_check"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = [f"  {name:<{width}}  {what}" for name, (what, _) in COMMANDS.items()]
    listing = "\n".join(rows)
    return f"usage: musicstore SUBCOMMAND [ARGS...]\n\n{listing}\n\nmusicstore SUBCOMMAND --help for its arguments.\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        rule = "must be one of " + ", ".join(COMMANDS)
        print(messages.error_line(messages.problem("subcommand", json.dumps(name), rule)), file=sys.stderr)
        return 2
    target = COMMANDS[name][1]
    run = target if callable(target) else importlib.import_module(target).main
    return int(run(rest))


if __name__ == "__main__":
    sys.exit(main())
