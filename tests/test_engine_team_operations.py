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
from ops import team, team_apply, vm_power
from tests.support import arm_compute
from tests.support.arm_compute import Compute, StaticToken, journal_lines
from tests.support.engine import Workspace, secret_value

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine-teams")]
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
    ws.close()


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


@pytest.fixture
def carried_out(
    two_teams: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Workspace, Compute]]:
    """`--apply` as an organizer's shell runs it: the workspace's CLI and backend, and ARM's
    stand-in holding the stack's agents, deallocated as after the nightly shutdown."""
    for key, value in two_teams.env.items():
        monkeypatch.setenv(key, value)
    ids = json.loads(two_teams.pulumi("stack", "output", "agentResourceIds", "--json", stack=STACK).stdout)
    states = {rid.rsplit("/", 1)[-1]: "deallocated" for rids in ids.values() for rid in rids}
    compute = Compute(states, tmp_path / "journal")
    with arm_compute.serving(compute, tmp_path / "tls") as (base, ca):
        monkeypatch.setenv(vm_power.ENDPOINT_VARIABLE, base)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        yield two_teams, compute


def exported(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The state's resources by URN, secrets decrypted: each save encrypts a secret anew."""
    state = json.loads(ws.pulumi("stack", "export", "--show-secrets", stack=STACK).stdout)
    return {r["urn"]: r for r in state["deployment"]["resources"]}


def untouched(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(
        urn
        for urn, r in after.items()
        if urn in before and (r.get("id"), r.get("inputs")) == (before[urn].get("id"), before[urn].get("inputs"))
    )


def test_a_replaced_agent_is_deleted_first_and_made_again_with_what_hangs_on_it(
    carried_out: tuple[Workspace, Compute], capfd: pytest.CaptureFixture[str]
) -> None:
    ws, compute = carried_out
    plan = team.plan_replace_agent(STACK, "blue", 1, root=ws.project)
    text = (ws.project / f"Pulumi.{STACK}.yaml").read_text()
    assert preview_of(ws, text, *plan.up_args) == {("replace", c.urn) for c in plan.changes}
    before = exported(ws)
    assert team_apply.apply(plan, ["--yes"], login=StaticToken()) == 0
    after = exported(ws)
    assert set(after) == set(before)
    assert set(after) - {c.urn for c in plan.changes} <= set(untouched(before, after))
    assert f"+-{len(plan.changes)} replaced" in capfd.readouterr().out  # the engine's own summary
    # Only blue's agent was started: the replacement deletes its extension first.
    assert [line for line in journal_lines(compute.journal) if line.startswith("arm ")] == [
        f"arm start {name}" for name in compute.states if "blue" in name
    ]
    assert ws.pulumi("preview", "--expect-no-changes", stack=STACK, check=False).returncode == 0


def test_a_removal_deletes_that_teams_resources_and_leaves_the_others_as_they_were(
    carried_out: tuple[Workspace, Compute],
) -> None:
    ws, _ = carried_out
    before = exported(ws)
    plan = team.plan_remove(STACK, "blue", root=ws.project)
    assert plan.edit is not None and plan.others == []
    assert preview_of(ws, plan.edit.text) == {("delete", c.urn) for c in plan.changes}
    assert team_apply.apply(plan, ["--yes"], login=StaticToken()) == 0
    after = exported(ws)
    assert set(before) - set(after) == {c.urn for c in plan.changes}
    assert untouched(before, after) == sorted(after)
    # On the API server too: blue's namespace is gone with everything in it, red's stays.
    served = {o["namespace"] or o["name"] for o in ws.cluster(STACK).objects()}
    assert "musicstore-red" in served and "musicstore-blue" not in served
    assert ws.pulumi("preview", "--expect-no-changes", stack=STACK, check=False).returncode == 0
    # The CLI reads the file as edited: red alone.
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "team", "remove", "-s", STACK, "red"],
        cwd=ws.project,
        env=ws.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "red is the stack's only team" in done.stderr


def test_the_teardown_command_with_the_api_server_up_removes_every_object_from_it(two_teams: Workspace) -> None:
    ws = two_teams
    cluster = ws.cluster(STACK)
    assert cluster.objects() != []
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "teardown", STACK, "--confirm", f"destroy {STACK}"],
        cwd=ws.project,
        env=ws.env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert cluster.objects() == []
    assert cluster.azure.errors == []  # Azure's side met no error while everything went
