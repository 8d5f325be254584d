"""The organizer's live status board: each team's agents, last run, newest image, app and VMs.

    musicstore status -s STACK                                  one round, as a table
    musicstore status -s STACK --json                           the same, as one JSON document
    musicstore status -s STACK --board board.html --watch       a page for the projector, every 30 s
    musicstore status -s STACK --outputs outputs.json --board board.md

Per team, every team at once and each request with a short timeout (--timeout, 3 s): its pool's
agents online and their jobs, each agent's disk use as its pipeline's last builds recorded it (a
note names every agent above 80 %), its last pipeline run (Azure DevOps REST with the PAT in
AZURE_DEVOPS_EXT_PAT, the Azure DevOps CLI's variable; the organization is the stack's
azdoOrganizationUrl unless --organization names another), the newest image in its registry (the
highest BuildId tag of the repository its `image` output names, with the admin credentials of the
outputs), its app's answer at its appUrl (no redirect followed) and its agent VMs' power state (ARM,
with the login `pulumi up` would use). Without a PAT or an Azure login, those cells say so and the rest runs.

A team is ready when its app answers below 400; building while a run is queued or runs; else
stuck, with the first cause found: a VM deallocated, no agent online, its last run failed, no
image yet, then what its app answered.

The outputs are read with `pulumi stack output --json --show-secrets` (the registry passwords are
secrets), or from --outputs FILE, that JSON saved. No password or PAT is shown, in the table, the
JSON or the board.

Exit status: 0 every team probed, whatever its verdict (Ctrl-C ends --watch with 0); 1 `pulumi stack
output` failed (no login to the backend, a wrong passphrase); 2 bad input; 130 Ctrl-C in the middle of
a single round.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import TokenCredential
from rich.console import Console
from rich.live import Live
from rich.text import Text

from infra import messages, stack_files
from infra.config import load_stack
from infra.stack_config import ConfigError
from ops.agents import AgentsError, InputError, check_stack, stack_outputs
from ops.status_board import Board, disk_note, document, table, write_board
from ops.status_devops import HIDDEN, PAT_VARIABLE
from ops.status_probes import REPOSITORY, ArmLogin, Settings, Team, probe_all

BOARD_SUFFIXES = (".html", ".htm", ".md")
WATCH_SECONDS = 30.0
# A probe makes a few requests in a row (a registry's: up to six, with its login challenge);
# past this many timeouts a round stops waiting for it.
ROUND_TIMEOUTS = 6
WIDE = 200  # columns of the table when it goes to a file or a pipe rather than a terminal


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    head, _, rest = (__doc__ or "").partition("\n\n")
    parser = messages.Parser(
        prog="musicstore status", description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-s", "--stack", required=True, help="a stack with a Pulumi.<stack>.yaml")
    parser.add_argument(
        "--outputs", type=Path, metavar="FILE", help="the JSON of `pulumi stack output --json --show-secrets`"
    )
    parser.add_argument("--organization", metavar="URL", help="the Azure DevOps organization (default: the stack's)")
    parser.add_argument("--timeout", type=_seconds, default=3.0, metavar="SECONDS", help="per request (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout instead of the table")
    parser.add_argument("--board", type=Path, metavar="FILE", help="also write the board: FILE.html or FILE.md")
    parser.add_argument(
        "--watch",
        type=_seconds,
        nargs="?",
        const=WATCH_SECONDS,
        metavar="SECONDS",
        help=f"probe again every SECONDS (default {WATCH_SECONDS:g}) until Ctrl-C",
    )
    return parser.parse_args(argv)


def read_outputs(stack: str, path: Path | None) -> dict[str, Any]:
    if path is None:
        return stack_outputs(stack, show_secrets=True)
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(
            messages.problem("--outputs", json.dumps(str(path)), f"cannot be read: {err.strerror}")
        ) from None
    except ValueError as err:
        # The decoder's message names a position, never the text: the file holds passwords.
        rule = f"must be the JSON of `pulumi stack output --json --show-secrets` ({err})"
        raise InputError(messages.problem("--outputs", json.dumps(str(path)), rule)) from None
    if not isinstance(outputs, dict):
        raise InputError(messages.problem("--outputs", json.dumps(str(path)), "must be a JSON object of outputs"))
    return outputs


def teams_of(outputs: dict[str, Any]) -> list[Team]:
    teams = outputs.get("teams")
    if teams is None:
        raise InputError(
            "the outputs have no `teams` (a stack never deployed has none): "
            "take them with pulumi stack output --json --show-secrets"
        )
    if teams == HIDDEN:
        raise InputError(
            'stack output teams = "[secret]": take the outputs with --show-secrets, its passwords are secret'
        )
    if not isinstance(teams, dict) or not all(isinstance(out, dict) for out in teams.values()):
        raise InputError(messages.problem("stack output teams", json.dumps(teams)[:80], "must map teams to objects"))
    ids = outputs.get("agentResourceIds")
    return [
        _team(name, out, ids.get(name, []) if isinstance(ids, dict) else None) for name, out in sorted(teams.items())
    ]


def _team(name: str, out: dict[str, Any], ids: Any) -> Team:
    devops = out.get("devops")
    project_url = str(devops.get("projectUrl") or "") if isinstance(devops, dict) else ""
    pipeline = parse_qs(urlsplit(str(devops.get("pipelineUrl") or "")).query) if isinstance(devops, dict) else {}
    agents = out.get("agents")
    server = str(out.get("registryLoginServer") or "")
    image = str(out.get("image") or "")
    return Team(
        name=name,
        pool=str(out.get("agentPool") or ""),
        login_server=str(out.get("registryLoginServer") or ""),
        username=str(out.get("registryAdminUsername") or ""),
        password=str(out.get("registryAdminPassword") or ""),
        app_url=str(out.get("appUrl") or ""),
        # {org}/{project}: the project's name as its URL spells it; the organization is ours.
        project=project_url.rstrip("/").rsplit("/", 1)[-1] if project_url else None,
        vm_ids=tuple(str(i) for i in ids) if isinstance(ids, list) else None,
        vm_names=tuple(str(a.get("vmName")) for a in agents if isinstance(a, dict)) if isinstance(agents, list) else (),
        # `image` is <login server>/<repository>, the pipeline's push target.
        repository=_repository(image, server),
        definition=next(iter(pipeline.get("definitionId", [])), None),
    )


def _repository(image: str, server: str) -> str:
    """`mvcmusicstore` of `<server>/mvcmusicstore:develop` (or `@sha256:...`), the team's output `image`."""
    if not server or not image.startswith(f"{server}/"):
        return REPOSITORY
    name = image.removeprefix(f"{server}/").split("@")[0]
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def organization_of(stack: str, given: str | None) -> str:
    if given is not None:
        if not given.startswith(("https://", "http://")):
            raise InputError(messages.problem("--organization", json.dumps(given), "must be an http(s) URL"))
        return given.rstrip("/")
    try:
        return load_stack(stack, deploying=False).agents.organization_url.rstrip("/")
    except (ConfigError, stack_files.StackFileError) as err:
        raise InputError(str(err)) from None


def check_board(path: Path | None) -> None:
    if path is None:
        return
    if path.suffix.lower() not in BOARD_SUFFIXES:
        raise InputError(messages.problem("--board", json.dumps(str(path)), "must end in .html, .htm or .md"))
    if not path.parent.is_dir():
        raise InputError(messages.problem("--board", json.dumps(str(path)), "must be in a folder that exists"))


def one_round(stack: str, teams: list[Team], settings: Settings, arm: ArmLogin) -> Board:
    checked, started = datetime.now(UTC), time.monotonic()
    statuses = probe_all(teams, settings, arm, limit=ROUND_TIMEOUTS * settings.timeout)
    seconds = time.monotonic() - started
    notes: tuple[str, ...] = (f"VM power unknown: no Azure login ({arm.problem})",) if arm.problem else ()
    full = disk_note(statuses)
    notes += (full,) if full else ()
    return Board(stack, settings.organization, checked, seconds, statuses, notes)


def console() -> Console:
    return Console(width=None if sys.stdout.isatty() else WIDE, highlight=False)


def run(args: argparse.Namespace, login: TokenCredential | None) -> int:
    check_stack(args.stack)
    check_board(args.board)
    organization = organization_of(args.stack, args.organization)
    teams = teams_of(read_outputs(args.stack, args.outputs))
    settings = Settings(organization, os.environ.get(PAT_VARIABLE), args.timeout)
    arm = ArmLogin(login)

    def probe() -> Board:
        board = one_round(args.stack, teams, settings, arm)
        if args.board is not None:
            write_board(board, args.board, refresh=args.watch)
        return board

    if args.watch is None:
        board = probe()
        if args.json:
            print(json.dumps(document(board), indent=2))
        else:
            console().print(table(board))
        return 0
    return watch(probe, args.watch, as_json=args.json)


def watch(probe: Callable[[], Board], seconds: float, *, as_json: bool) -> int:
    """A round every `seconds` until Ctrl-C: a JSON document a line, or the table redrawn."""
    try:
        if as_json:
            while True:
                print(json.dumps(document(probe())), flush=True)
                time.sleep(seconds)
        with Live(Text("probing the teams…"), console=console(), auto_refresh=False) as live:
            while True:
                live.update(table(probe()), refresh=True)
                time.sleep(seconds)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None, *, login: TokenCredential | None = None) -> int:
    """`login`: a credential for ARM instead of the one `pulumi up` would use (the tests' own)."""
    args = parse(argv)
    try:
        return run(args, login)
    except (InputError, OSError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    except AgentsError as err:  # `pulumi stack output` failed, as `musicstore agents` says it
        print(messages.error_line(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # in the middle of a single round: not every team was probed
        return 130


if __name__ == "__main__":
    sys.exit(main())
