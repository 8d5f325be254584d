"""One team's operations on a deployed stack, each planned offline first: the resources it
changes, and that none of them is another team's or shared.

    musicstore team add -s STACK [TEAM]                 a team more: its registry, agents, namespace, project
    musicstore team remove -s STACK TEAM                that team's resources go, no other's
    musicstore team replace-agent -s STACK TEAM [--agent N]    a new VM for the team's agent N (default 1)
    musicstore team rotate-password -s STACK TEAM --handouts DIR   a new registry password, the team's handout again

Without --apply each prints its offline plan and changes nothing. With --apply, and only when the
plan touches that team alone and the real `pulumi preview` of the plan's resources agrees with it
(ops/team_apply.py): add and remove write Pulumi.STACK.yaml; replace-agent and remove start the
team's own agents; rotate-password has Azure regenerate the registry's password; then
`pulumi up --stack STACK --target ...` on the plan's resources alone (replace-agent with
`--replace` of the VM), and rotate-password writes the team's handout and its row of teams.csv
again. Arguments after `--` go to `pulumi up` (--yes, ...). A refusal before `pulumi up` puts the
stack file back.

Exit status: 0 planned (or applied); 1 the plan changes another team's or a shared resource, the
real preview disagrees, or a step before `pulumi up` failed (nothing applied); `pulumi up`'s own
when it fails (`musicstore up -s STACK` then completes the change); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from azure.core.credentials import TokenCredential

from infra import config, messages, stack_files
from infra.stack_config import ConfigError
from offline import changes, plan, recording
from offline.plan import PlanError
from ops import team_apply, team_file
from ops.team_file import Edit, TeamFileError
from ops.team_plan import TeamPlan

VM = "azure-native:compute:VirtualMachine"
REGISTRY = "azure-native:containerregistry:Registry"


def plan_add(stack: str, team: str | None, *, root: Path = stack_files.ROOT, now: datetime | None = None) -> TeamPlan:
    files, text = _current(stack, root)
    counted = files.values.get(f"{files.project}:teamPrefix") if _counted(files) else None
    edit = team_file.add(text, _teams(files, stack), team, counted=counted)
    return _edited(stack, root, files, edit, edit.teams[-1], f"team add {edit.teams[-1]}", now)


def plan_remove(stack: str, team: str, *, root: Path = stack_files.ROOT, now: datetime | None = None) -> TeamPlan:
    files, text = _current(stack, root)
    edit = team_file.remove(text, _teams(files, stack), team)
    return _edited(stack, root, files, edit, team, f"team remove {team}", now)


def plan_replace_agent(
    stack: str, team: str, agent: int, *, root: Path = stack_files.ROOT, now: datetime | None = None
) -> TeamPlan:
    files, _ = _current(stack, root)
    teams = _check_team(files, stack, team)
    before = _run(stack, root, files, now)
    name = f"{team}-agent{agent}"
    vms = [r for r in before.of_type(VM) if r.name == name]
    if not vms:
        count = sum(r.name.startswith(f"{team}-agent") for r in before.of_type(VM))
        raise TeamFileError(messages.problem("--agent", str(agent), f"must be 1 to {count}: {team} has {count} agents"))
    found = changes.replacing(before, [vms[0].urn])
    urn = changes.engine_urn(before, vms[0].urn)
    what = f"team replace-agent {team} (agent {agent})"
    return TeamPlan(stack, team, what, tuple(found), up_args=("--replace", urn), teams_before=teams, root=root)


def plan_rotate(stack: str, team: str, *, root: Path = stack_files.ROOT, now: datetime | None = None) -> TeamPlan:
    files, _ = _current(stack, root)
    teams = _check_team(files, stack, team)
    before = _run(stack, root, files, now)
    registry = next(r for r in before.of_type(REGISTRY) if r.name == f"{team}-registry")
    # The offline registry's name, as the mocks made it: what a regenerated password changes.
    physical = str(registry.state.get("name") or registry.plain("registryName"))
    after = _run(stack, root, files, now, regenerated=frozenset({physical}))
    found = changes.between(before, after)
    what = f"team rotate-password {team}"
    return TeamPlan(stack, team, what, tuple(found), rotates=True, teams_before=teams, root=root)


def _current(stack: str, root: Path) -> tuple[stack_files.StackFiles, str]:
    """The stack as the one parser reads it (a missing file is its error), and the file's text to edit."""
    files = config.offline_files(stack, root)
    return files, (root / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")


def _counted(files: stack_files.StackFiles) -> bool:
    return files.values.get(f"{files.project}:teamCount", "0") not in ("", "0")


def _teams(files: stack_files.StackFiles, stack: str) -> tuple[str, ...]:
    return config.from_files(files, stack).teams


def _check_team(files: stack_files.StackFiles, stack: str, team: str) -> tuple[str, ...]:
    teams = _teams(files, stack)
    if team not in teams:
        raise TeamFileError(messages.problem("team", json.dumps(team), f"must be one of {', '.join(teams)}"))
    return teams


def _run(
    stack: str,
    root: Path,
    files: stack_files.StackFiles,
    now: datetime | None,
    regenerated: frozenset[str] = frozenset(),
) -> recording.Recording:
    moment = now or datetime.now(UTC)
    references = plan.referenced_outputs(config.from_files(files, stack), root=root, now=moment)
    return recording.run(stack, root=root, files=files, now=moment, stack_outputs=references, regenerated=regenerated)


def _edited(
    stack: str, root: Path, files: stack_files.StackFiles, edit: Edit, team: str, what: str, now: datetime | None
) -> TeamPlan:
    """Plans the stack file as the edit leaves it, read the way every stack file is read."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(root / "Pulumi.yaml", Path(folder) / "Pulumi.yaml")
        (Path(folder) / f"Pulumi.{stack}.yaml").write_text(edit.text, encoding="utf-8")
        edited = replace(config.offline_files(stack, Path(folder)), image_release=files.image_release)
    if config.from_files(edited, stack).teams != edit.teams:
        raise TeamFileError(f"Pulumi.{stack}.yaml as edited does not name the teams {', '.join(edit.teams)}")
    found = changes.between(_run(stack, root, files, now), _run(stack, root, edited, now))
    return TeamPlan(stack, team, what, tuple(found), edit=edit, teams_before=_teams(files, stack), root=root)


PLANS: dict[str, Callable[[argparse.Namespace], TeamPlan]] = {
    "add": lambda a: plan_add(a.stack, a.team),
    "remove": lambda a: plan_remove(a.stack, a.team),
    "replace-agent": lambda a: plan_replace_agent(a.stack, a.team, a.agent),
    "rotate-password": lambda a: plan_rotate(a.stack, a.team),
}


def main(argv: list[str] | None = None, *, login: TokenCredential | None = None) -> int:
    """`login`: a credential instead of the provider's choice (the tests' own)."""
    parser = messages.Parser(prog="musicstore team", description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="action", required=True, metavar="{" + ",".join(PLANS) + "}")
    for name in PLANS:
        sub = actions.add_parser(name, description=f"musicstore team {name}: see musicstore team --help")
        sub.add_argument("-s", "--stack", required=True, help="a stack with a Pulumi.<stack>.yaml")
        sub.add_argument("team", nargs="?" if name == "add" else None, help="the team")
        if name == "replace-agent":
            sub.add_argument("--agent", type=int, default=1, help="which of the team's agents (default 1)")
        if name == "rotate-password":
            sub.add_argument(
                "--handouts", type=Path, required=True, help="where the stack's handouts are written again"
            )
            sub.add_argument("--show-passwords", action="store_true", help="write the passwords into them")
        sub.add_argument("--apply", action="store_true", help="carry it out once the plan touches that team alone")
    given = sys.argv[1:] if argv is None else list(argv)
    # What follows `--` is pulumi up's, never a team's name (argparse would take `--yes` for one).
    ours, rest = (given[: given.index("--")], given[given.index("--") + 1 :]) if "--" in given else (given, [])
    args = parser.parse_args(ours)
    try:
        planned = PLANS[args.action](args)
    except (ConfigError, stack_files.StackFileError, TeamFileError, PlanError, KeyError, ValueError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    print("\n".join(planned.report()), flush=True)
    if planned.others:
        print(
            messages.error_line(f"{args.action} would change more than {planned.team}: nothing done"), file=sys.stderr
        )
        return 1
    if not args.apply:
        print("Nothing changed: --apply carries it out.")
        return 0
    return team_apply.apply(
        planned,
        rest,
        handouts=getattr(args, "handouts", None),
        show_passwords=getattr(args, "show_passwords", False),
        login=login,
    )


if __name__ == "__main__":
    sys.exit(main())
