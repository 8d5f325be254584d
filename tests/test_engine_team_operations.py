"""One team's operations against the real engine: on a deployed two-team stack, the real
`pulumi preview` of the stack file as `musicstore team` leaves it changes exactly what the offline
plan listed, that team's resources; the real `pulumi up` of a removal leaves the other team's
resources as they were. Run apart with `pytest -m engine`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offline.changes import CREATE, DELETE
from ops import team
from tests.support.engine import Workspace, secret_value

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine")]
STACK = "dev"
OFFLINE_OP = {CREATE: "create", DELETE: "delete"}


@pytest.fixture(scope="module")
def two_teams(tmp_path_factory: pytest.TempPathFactory, engine_bin: Path) -> Iterator[Workspace]:
    """dev with the teams red and blue, set as an organizer would (`pulumi config set --path`), and up."""
    ws = Workspace.create(tmp_path_factory.mktemp("teams"), engine_bin)
    ws.init(STACK, {"azdoPat": secret_value(STACK, "azdoPat"), "azdoAdminPat": secret_value(STACK, "azdoAdminPat")})
    ws.pulumi("config", "set", "--path", "teams[0]", "red", stack=STACK)
    ws.pulumi("config", "set", "--path", "teams[1]", "blue", stack=STACK)
    ws.pulumi("up", "--yes", stack=STACK)
    yield ws


REPLACING = {"replace", "create-replacement", "delete-replaced"}  # the preview's ways to say it


def changed(steps: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {("replace" if s["op"] in REPLACING else s["op"], s["urn"]) for s in steps if s["op"] != "same"}


def preview_of(ws: Workspace, text: str, *args: str) -> set[tuple[str, str]]:
    """The real preview with the stack file as `text`; the file is put back after."""
    path = ws.project / f"Pulumi.{STACK}.yaml"
    kept = path.read_text()
    path.write_text(text)
    try:
        return changed(json.loads(ws.pulumi("preview", "--json", *args, stack=STACK).stdout)["steps"])
    finally:
        path.write_text(kept)


def test_the_real_preview_of_an_added_team_creates_what_the_offline_plan_lists(two_teams: Workspace) -> None:
    plan = team.plan_add(STACK, "green", root=two_teams.project)
    assert plan.edit is not None and plan.others == []
    planned = {(OFFLINE_OP[c.action], c.urn) for c in plan.changes}
    assert preview_of(two_teams, plan.edit.text) == planned


def test_the_real_preview_of_a_replaced_agent_stays_within_the_offline_plan(two_teams: Workspace) -> None:
    plan = team.plan_replace_agent(STACK, "blue", 1, root=two_teams.project)
    text = (two_teams.project / f"Pulumi.{STACK}.yaml").read_text()
    real = preview_of(two_teams, text, *plan.up_args)
    vm = plan.up_args[1]
    assert ("replace", vm) in real
    assert {urn for _, urn in real} <= {c.urn for c in plan.changes}


def exported(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The state's resources by URN, secrets decrypted: each save encrypts a secret anew."""
    state = json.loads(ws.pulumi("stack", "export", "--show-secrets", stack=STACK).stdout)
    return {r["urn"]: r for r in state["deployment"]["resources"]}


def test_a_removal_deletes_that_teams_resources_and_leaves_the_others_as_they_were(two_teams: Workspace) -> None:
    before = exported(two_teams)
    plan = team.plan_remove(STACK, "blue", root=two_teams.project)
    assert plan.edit is not None and plan.others == []
    assert preview_of(two_teams, plan.edit.text) == {("delete", c.urn) for c in plan.changes}
    # What --apply does first, then the `pulumi up` it runs.
    team.write_stack_file(STACK, plan.edit.text, two_teams.project)
    two_teams.pulumi("up", "--yes", stack=STACK)
    after = exported(two_teams)
    assert set(before) - set(after) == {c.urn for c in plan.changes}
    untouched = [
        urn
        for urn, r in after.items()
        if (r.get("id"), r.get("inputs")) == (before[urn].get("id"), before[urn].get("inputs"))
    ]
    assert sorted(untouched) == sorted(after)
    assert two_teams.pulumi("preview", "--expect-no-changes", stack=STACK, check=False).returncode == 0
    # The CLI reads the file as edited: red alone.
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "team", "remove", "-s", STACK, "red"],
        cwd=two_teams.project,
        env=two_teams.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "red is the stack's only team" in done.stderr
