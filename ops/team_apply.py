"""Carrying out one team's offline plan on the deployed stack, and nothing else.

The offline plan says what the change does to the stack file's program; the deployed stack may
hold more (an earlier edit not yet applied, a new toolkit version for every agent). So the change
is carried out with `--target` on the plan's resources alone, and only after the real
`pulumi preview` of those targets agrees: every resource it would change is in the plan and is the
team's, and every resource the plan creates, deletes or replaces is in it. Until `pulumi up` runs,
nothing is changed for good: a refusal puts the stack file back as it was.

Before the `up`, the team's own agents are started when the change deletes or replaces one (Azure
refuses to touch the extension of a deallocated VM); no other team's agent is started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from azure.core.credentials import TokenCredential

from infra import messages
from offline.changes import CREATE, DELETE, REPLACE
from ops import agents
from ops.agents import NO_CLI, AgentsError, InputError
from ops.team_plan import TeamPlan
from ops.vm_power import RUNNING

# How `pulumi preview --json` names a step (pulumi pkg/display/json.go, the step's `op`).
REPLACING = {"replace", "create-replacement", "delete-replaced"}
VM = "azure-native:compute:VirtualMachine"
MUST_SHOW = {CREATE: "create", DELETE: "delete", REPLACE: "replace"}


class ApplyError(Exception):
    """The change was not carried out; the message says why."""


def targets(planned: TeamPlan) -> list[str]:
    return [arg for change in planned.changes for arg in ("--target", change.urn)]


def preview(planned: TeamPlan) -> set[tuple[str, str]]:
    """(op, urn) of each resource the real preview of the plan's targets would change."""
    command = ["pulumi", "preview", "--json", "--stack", planned.stack, *targets(planned), *planned.up_args]
    try:
        done = subprocess.run(command, cwd=planned.root, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ApplyError(NO_CLI) from None
    try:
        shown = json.loads(done.stdout)
    except ValueError:
        shown = None
    steps = shown.get("steps") if isinstance(shown, dict) and done.returncode == 0 else None
    if not isinstance(steps, list):
        raise ApplyError(f"pulumi preview --stack {planned.stack}: {_failure(shown, done)}")
    found = set()
    for step in steps:
        op = "replace" if step.get("op") in REPLACING else str(step.get("op"))
        if op not in ("same", "read"):
            found.add((op, str(step.get("urn"))))
    return found


def _failure(shown: object, done: subprocess.CompletedProcess[str]) -> str:
    """Why the preview failed: with --json the engine's errors are the document's error
    diagnostics (pulumi pkg/backend/display/json.go), else the last line it wrote."""
    if isinstance(shown, dict):
        errors = [d for d in shown.get("diagnostics") or [] if isinstance(d, dict) and d.get("severity") == "error"]
        texts = [line for d in errors for line in str(d.get("message", "")).strip().splitlines() if line.strip()]
        if texts:
            return texts[-1]
    lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
    return lines[-1]


def disagreement(planned: TeamPlan, real: set[tuple[str, str]]) -> list[str]:
    """Why the real preview and the offline plan disagree; none when they agree."""
    planned_urns = {c.urn for c in planned.changes}
    foreign = sorted(urn for _, urn in real if urn not in planned_urns)
    lines = [f"the real preview changes {urn.rsplit('::', 1)[-1]}, which the plan does not" for urn in foreign]
    seen = {(op, urn) for op, urn in real}
    for change in planned.changes:
        op = MUST_SHOW.get(change.action)
        # An update, or what a replacement may take with it, is the provider's to judge; a
        # rotation's update comes only once Azure has made the new password.
        if op is not None and (op, change.urn) not in seen:
            lines.append(f"the real preview does not {op} {change.name} as the plan does (is the stack up to date?)")
    return lines


def apply(
    planned: TeamPlan,
    up_args: list[str],
    *,
    handouts: Path | None = None,
    show_passwords: bool = False,
    login: TokenCredential | None = None,
) -> int:
    """Carries out a plan that touches its team alone; the exit status."""
    from ops import team_password

    path = planned.root / f"Pulumi.{planned.stack}.yaml"
    kept = path.read_text(encoding="utf-8") if planned.edit is not None else None
    try:
        if planned.edit is not None:
            write_stack_file(path, planned.edit.text)
        differences = disagreement(planned, preview(planned))
        if differences:
            raise ApplyError("; ".join(differences))
        if _touches_an_agent(planned) and agents.bring(
            planned.stack, planned.team, RUNNING, login, before_up=True, root=planned.root
        ):
            raise ApplyError(f"{planned.team}'s agents must be running first")
        if planned.rotates:
            team_password.regenerate(planned.stack, planned.team, login=login, root=planned.root)
    except (ApplyError, AgentsError, InputError) as err:
        if kept is not None:
            write_stack_file(path, kept)
        print(messages.error_line(err), file=sys.stderr)
        print(f"nothing applied: Pulumi.{planned.stack}.yaml is as it was", file=sys.stderr)
        return 1
    except BaseException:  # Ctrl-C during the preview or the agents' start, or a fault: as it was
        if kept is not None:
            write_stack_file(path, kept)
        raise
    status = _up(planned, up_args)
    if status != 0:
        # The file names the change and the state holds part of it (or none, if the `up` was
        # declined): the stack's whole `up` completes it, the team's plan no longer would.
        left = f"Pulumi.{planned.stack}.yaml keeps the change; " if planned.edit is not None else ""
        print(f"pulumi up exited {status}: {left}`musicstore up -s {planned.stack}` completes it", file=sys.stderr)
        return status
    if planned.rotates and handouts is not None:
        try:
            team_password.reissue_handout(
                planned.stack, planned.team, handouts, show_passwords=show_passwords, root=planned.root
            )
        except AgentsError as err:
            print(messages.error_line(err), file=sys.stderr)
            return 1
    return 0


def _touches_an_agent(planned: TeamPlan) -> bool:
    """The change deletes or replaces one of the team's VMs (and so their extensions)."""
    return any(c.action in (DELETE, REPLACE) and c.type == VM for c in planned.changes)


def _up(planned: TeamPlan, up_args: list[str]) -> int:
    extra = [*planned.up_args, *up_args]
    command = ["pulumi", "up", "--stack", planned.stack, *targets(planned), *extra]
    shown = f"--target (each of the {len(planned.changes)} above)"
    print(" ".join(["pulumi", "up", "--stack", planned.stack, shown, *extra]), flush=True)
    try:
        return subprocess.run(command, cwd=planned.root, check=False).returncode
    except FileNotFoundError:
        print(messages.error_line(NO_CLI), file=sys.stderr)
        return 2


def write_stack_file(path: Path, text: str) -> None:
    """Replaces the stack file whole or not at all, keeping its mode."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        if path.exists():
            partial.chmod(path.stat().st_mode & 0o7777)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
