"""A stack's build agents: their power state, and starting them before an `up`.

    musicstore agents status -s STACK             each agent's power state
    musicstore agents start -s STACK [--team T]   start the deallocated or stopped ones, wait until running
    musicstore agents stop -s STACK [--team T]    deallocate them, as the nightly auto-shutdown does
    musicstore up -s STACK [PULUMI UP ARGS...]    start the stack's agents, then `pulumi up --stack STACK ...`

The nightly auto-shutdown deallocates the agents, and Azure refuses to update a VM extension
on a deallocated VM: an `up` that changes an agent's bootstrap (its Custom Script Extension)
fails on every agent that is not running. `musicstore up` starts them first and runs `pulumi up`
only once all are running.

The agents are the stack's output `agentResourceIds` (team: VM resource ids, in clear), read with
`pulumi stack output --json`; the Pulumi CLI on PATH runs, as for `musicstore teardown`. A stack
never deployed has no outputs and so no agent to start. ARM, and the login `pulumi up` would
use: ops/vm_power.py.

Exit status: 0 done; 1 an agent failed (a line each) or the Pulumi CLI did (`up`: its own
status); 2 bad input, no Pulumi CLI, no Azure login.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from infra import messages, stack_files
from infra.config import load_stack
from infra.stack_config import ConfigError
from ops import vm_power
from ops.vm_power import DEALLOCATED, RUNNING, Agent, Outcome
from promotion import azure_login
from promotion.azure_login import AzureLoginError

OUTPUT = "agentResourceIds"
NO_CLI = "the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/)"  # as ops.teardown says
# action: (the power state it brings the agents to, None to only read; its help)
ACTIONS: dict[str, tuple[str | None, str]] = {
    "status": (None, "each agent's power state"),
    "start": (RUNNING, "start the stopped or deallocated agents and wait until they run"),
    "stop": (DEALLOCATED, "deallocate the running agents (no compute is billed then)"),
}


class InputError(Exception):
    """Exit status 2."""


class AgentsError(Exception):
    """Exit status 1."""


def stack_outputs(stack: str, *, show_secrets: bool = False, root: Path = stack_files.ROOT) -> dict[str, Any]:
    """The stack's outputs, secrets as "[secret]" unless `show_secrets`; {} for a stack never deployed."""
    try:
        done = subprocess.run(
            ["pulumi", "stack", "output", "--json", *(["--show-secrets"] if show_secrets else []), "--stack", stack],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(NO_CLI) from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise AgentsError(f"pulumi stack output --stack {stack}: {lines[-1]}")
    try:
        outputs = json.loads(done.stdout or "{}")
    except ValueError:
        # With the secrets in clear, what came instead of JSON is not shown: it may hold them.
        shown = "" if show_secrets else f": {done.stdout[:200]!r}"
        raise AgentsError(f"pulumi stack output --stack {stack}: not JSON{shown}") from None
    return outputs if isinstance(outputs, dict) else {}


def agents_of(outputs: dict[str, Any], team: str | None) -> list[Agent] | None:
    """The agents the outputs name (of `team` only, if given); None if they name none, as a
    stack deployed before the output existed."""
    ids = outputs.get(OUTPUT)
    if ids is None:
        return None
    if not isinstance(ids, dict) or not all(isinstance(v, list) for v in ids.values()):
        raise AgentsError(messages.problem(f"stack output {OUTPUT}", json.dumps(ids), "must map teams to id lists"))
    if team is not None and team not in ids:
        raise InputError(messages.problem("--team", json.dumps(team), f"must be one of {', '.join(ids) or 'none'}"))
    try:
        return [vm_power.agent(t, str(rid)) for t, rids in ids.items() if team in (None, t) for rid in rids]
    except ValueError as err:
        raise AgentsError(f"stack output {OUTPUT}: {err}") from None


def check_stack(stack: str, root: Path = stack_files.ROOT) -> None:
    if stack not in stack_files.stacks(root):
        rule = f"must be a stack with a Pulumi.<stack>.yaml: {', '.join(stack_files.stacks(root))}"
        raise InputError(messages.problem("--stack", json.dumps(stack), rule))


def line(outcome: Outcome, want: str | None, widths: tuple[int, int]) -> str:
    vm = outcome.agent
    if want is None:
        note = ""
    elif outcome.acted:
        note = ", started now" if want == RUNNING else ", deallocated now"
    else:
        note = ", as it was"
    return f"{vm.team:<{widths[0]}}  {vm.name:<{widths[1]}}  {outcome.state}{note}"


def bring(
    stack: str,
    team: str | None,
    want: str | None,
    login: TokenCredential | None,
    *,
    before_up: bool = False,
    root: Path = stack_files.ROOT,
) -> int:
    """Reads the stack's agents and brings them to `want` (None: only reads); prints a line per
    agent and a line per failure; the exit status. `root`: the project the CLI runs in."""
    check_stack(stack, root)
    outputs = stack_outputs(stack, root=root)
    if not outputs:
        print(f"{stack}: no outputs, never deployed: no build agent to act on")
        return 0
    vms = agents_of(outputs, team)
    if vms is None:
        unknown = f"{stack} has no output {OUTPUT} (deployed before it was exported): its agents are unknown here"
        # A start comes before an `up`, and only that `up` exports the ids: stopping the deployment
        # here would leave the stack without them for good.
        if want != RUNNING and not before_up:
            raise AgentsError(f"{unknown}; start them with `az vm start`, then `musicstore up -s {stack}` exports it")
        print(f"warning: {unknown}; the next `pulumi up` exports it (deallocated agents: `az vm start` first)")
        return 0
    if not vms:
        print(f"{stack}: no build agents" + (f" for team {team}" if team else ""))
        return 0
    try:
        power = vm_power.Power(login)
        power.check_login()
    except (AzureLoginError, AzureError) as err:
        text = azure_login.scrub(vm_power.first_line(err), os.environ)
        raise InputError(f"no Azure login, as `pulumi up` would use (ARM_* variables or az login): {text}") from None
    what = {None: "reading", RUNNING: "starting", DEALLOCATED: "deallocating"}[want]
    outcomes = vm_power.bring_all(power, vms, want, what)
    widths = (max(len(vm.team) for vm in vms), max(len(vm.name) for vm in vms))
    for outcome in outcomes:
        if outcome.error is None:
            print(line(outcome, want, widths))
        else:
            print(
                messages.error_line(f"{outcome.agent.name} (team {outcome.agent.team}): {outcome.error}"),
                file=sys.stderr,
            )
    failed = sum(o.error is not None for o in outcomes)
    if failed:
        print(f"{failed} of {len(outcomes)} agents failed", file=sys.stderr)
    return 1 if failed else 0


def _run(step: Callable[[], int]) -> int:
    try:
        return step()
    except InputError as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    except AgentsError as err:
        print(messages.error_line(err), file=sys.stderr)
        return 1


def main(argv: list[str] | None = None, *, login: TokenCredential | None = None) -> int:
    parser = messages.Parser(prog="musicstore agents", description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="action", required=True, metavar="{status,start,stop}")
    for name, (_, what) in ACTIONS.items():
        sub = actions.add_parser(name, help=what, description=what)
        sub.add_argument("-s", "--stack", required=True, help="a stack with a Pulumi.<stack>.yaml")
        sub.add_argument("--team", help="only this team's agents")
    args = parser.parse_args(argv)
    return _run(lambda: bring(args.stack, args.team, ACTIONS[args.action][0], login))


def up(argv: list[str] | None = None, *, login: TokenCredential | None = None) -> int:
    """Starts the stack's stopped agents, then `pulumi up --stack STACK` with the other arguments."""
    parser = messages.Parser(
        prog="musicstore up",
        description="Start the stack's stopped or deallocated agents, then run pulumi up on it.",
        epilog="Every other argument goes to `pulumi up` as it is (--yes, --refresh, --target URN, ...).",
        allow_abbrev=False,  # pulumi's own options must never be taken for a prefix of ours
    )
    parser.add_argument("-s", "--stack", required=True, help="a stack with a Pulumi.<stack>.yaml")
    args, rest = parser.parse_known_args(argv)
    rest = rest[1:] if rest[:1] == ["--"] else rest
    # The program refuses a stack past its expiresAt: say so before any agent is started.
    try:
        if args.stack in stack_files.stacks():  # an unknown stack is named below
            load_stack(args.stack).expiry_warning(datetime.now(UTC))
    except (ConfigError, stack_files.StackFileError) as err:
        print(messages.error_line(err), file=sys.stderr)
        print(f"pulumi up not run, and no agent of {args.stack} started", file=sys.stderr)
        return 2
    started = _run(lambda: bring(args.stack, None, RUNNING, login, before_up=True))
    if started == 1:
        print(f"pulumi up not run: every agent of {args.stack} must be running first", file=sys.stderr)
    if started != 0:
        return started
    command = ["pulumi", "up", "--stack", args.stack, *rest]
    print(" ".join(command), flush=True)
    try:
        return subprocess.run(command, cwd=stack_files.ROOT, check=False).returncode
    except FileNotFoundError:
        print(messages.error_line(NO_CLI), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
