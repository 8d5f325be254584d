"""One team's operations (issue 16): each is planned offline, from the stack file as the change
leaves it, and the plan lists that team's resources only; an apply carries it out through the
same `musicstore up` an organizer types, against a fake `pulumi` and ARM's local stand-in."""

from __future__ import annotations

import argparse
import json
import re
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offline import changes
from offline.changes import CREATE, DELETE, REPLACE, UPDATE, WITH_REPLACED, Change
from ops import handout, team, team_file, teardown, vm_power
from ops.team_file import TeamFileError
from tests.support import arm_compute, fake_pulumi, project_copy
from tests.support.arm_compute import Compute, StaticToken, journal_lines, resource_id

VENUE = (project_copy.ROOT / "Pulumi.venue-ams.yaml").read_text()
STACK = "venue-ams"
TEAMS = ("team01", "team02", "team03")
NOW = datetime.now(UTC)


def small_venue(expires: datetime = NOW + timedelta(days=30)) -> str:
    """The venue with three teams, expiring a month from the test's day, so it plans on any date."""
    text = VENUE.replace("musicstore:teamCount: 30", "musicstore:teamCount: 3")
    return re.sub(r'musicstore:expiresAt: "[^"]+"', f'musicstore:expiresAt: "{expires:%Y-%m-%dT%H:%M:%SZ}"', text)


@pytest.fixture
def venue(tmp_path: Path) -> Path:
    return project_copy.copied(tmp_path, STACK, small_venue())


def teams_of(plan: team.TeamPlan, every: tuple[str, ...]) -> set[str | None]:
    return {changes.owner(c.urn, every) for c in plan.changes}


def test_adding_a_team_plans_that_teams_resources_and_nothing_else(venue: Path) -> None:
    plan = team.plan_add(STACK, None, root=venue)
    assert plan.team == "team04"
    assert {c.action for c in plan.changes} == {CREATE}
    assert teams_of(plan, (*TEAMS, "team04")) == {"team04"}
    assert plan.others == []
    kinds = {c.type for c in plan.changes}
    assert {"azure-native:containerregistry:Registry", "azure-native:compute:VirtualMachine"} <= kinds
    assert "kubernetes:apps/v1:Deployment" in kinds
    # The count goes up by one; every other line of the file stays as the organizer wrote it.
    assert plan.edit is not None
    assert plan.edit.text == small_venue().replace("teamCount: 3", "teamCount: 4")


def test_removing_a_team_plans_only_its_deletion_and_keeps_the_other_names(venue: Path) -> None:
    plan = team.plan_remove(STACK, "team02", root=venue)
    assert {c.action for c in plan.changes} == {DELETE}
    assert teams_of(plan, TEAMS) == {"team02"}
    assert plan.others == []
    assert len(plan.changes) >= 40  # registry, agent, namespace, app, Azure DevOps project...
    assert plan.edit is not None and plan.edit.teams == ("team01", "team03")
    assert "teamCount" not in plan.edit.text and "teamPrefix" not in plan.edit.text
    assert '    - "team01"\n    - "team03"\n' in plan.edit.text
    assert [line for line in plan.edit.text.splitlines() if line.lstrip().startswith("#")] == [
        line for line in small_venue().splitlines() if line.lstrip().startswith("#")
    ]


def test_replacing_an_agent_replaces_its_vm_and_touches_only_what_hangs_on_it(venue: Path) -> None:
    plan = team.plan_replace_agent(STACK, "team02", 1, root=venue)
    replaced = [c for c in plan.changes if c.action == REPLACE]
    assert [c.name for c in replaced] == ["team02-agent1"]
    assert replaced[0].type == "azure-native:compute:VirtualMachine"
    assert plan.up_args == ("--replace", replaced[0].urn)
    followers = {c.name for c in plan.changes if c.action == WITH_REPLACED}
    # The bootstrap extension and the shutdown schedule sit on the VM; its identity reads the PAT.
    assert {"team02-agent1-bootstrap", "team02-agent1-shutdown", "team02-agent1-pat-reader"} <= followers
    assert teams_of(plan, TEAMS) == {"team02"}
    assert plan.others == []


def test_rotating_a_password_updates_that_teams_service_connection_alone(venue: Path) -> None:
    plan = team.plan_rotate(STACK, "team03", root=venue)
    assert [(c.action, c.name, c.keys) for c in plan.changes] == [
        (UPDATE, "team03-devops-registry-connection", ("dockerPassword",))
    ]
    assert plan.registry.startswith("gdbc26amsteam03")


def test_a_change_to_a_shared_or_another_teams_resource_is_named() -> None:
    urn = "urn:pulumi:s::musicstore::{}::{}"
    found = [
        Change(UPDATE, urn.format("azure-native:network:Subnet", "network-agents")),
        Change(UPDATE, urn.format("azure-native:compute:VirtualMachine", "team10-agent1")),
        Change(UPDATE, urn.format("azure-native:authorization:RoleAssignment", "aks-acrpull-team1")),
    ]
    assert [c.name for c in changes.others(found, "team1", ("team1", "team10"))] == ["network-agents", "team10-agent1"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: team_file.remove(VENUE, TEAMS, "team09"), 'team = "team09": must be one of team01, team02, team03'),
        (lambda: team_file.remove(VENUE, ("team01",), "team01"), "only team: tear the stack down"),
        (lambda: team_file.add(VENUE, TEAMS, "team02", counted=None), "already one of the stack's teams"),
        (lambda: team_file.add(VENUE, TEAMS, None, counted=None), "name the team to add"),
    ],
)
def test_a_team_the_stack_cannot_take_is_one_line(call: object, message: str) -> None:
    with pytest.raises(TeamFileError, match=re.escape(message)):
        call()  # type: ignore[operator]


def test_a_named_team_on_a_counted_stack_turns_the_count_into_its_list() -> None:
    edit = team_file.add(small_venue(), TEAMS, "latecomers", counted="team")
    assert edit.teams == (*TEAMS, "latecomers")
    assert '  musicstore:teams:\n    - "team01"\n    - "team02"\n    - "team03"\n    - "latecomers"\n' in edit.text
    assert "teamCount" not in edit.text


def test_a_listed_block_is_replaced_where_it_stood() -> None:
    text = "config:\n  musicstore:environment: x\n  musicstore:teams:\n    - red\n\n    - blue\n"
    text += "  # after\n  musicstore:agentCount: 1\n"
    edit = team_file.add(text, ("red", "blue"), "green", counted=None)
    assert edit.text == (
        'config:\n  musicstore:environment: x\n  musicstore:teams:\n    - "red"\n    - "blue"\n    - "green"\n'
        "  # after\n  musicstore:agentCount: 1\n"
    )


def test_the_cli_refuses_an_unknown_team_before_planning(capsys: pytest.CaptureFixture[str]) -> None:
    assert team.main(["remove", "-s", "dev", "nobody"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'error: team = "nobody": must be one of team1'


# --- apply ---------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Compute, Path, Path]]:
    """A fake `pulumi` first on PATH that journals what it is asked and answers `outputs.json`,
    and ARM's stand-in with team02's agent running and its registry."""
    journal, bin_dir = tmp_path / "journal", tmp_path / "bin"
    fake_pulumi.install(bin_dir, journal)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    compute = Compute({"vm-team02": "running"}, journal, registries={"acrteam02": {}})
    with arm_compute.serving(compute, tmp_path / "tls") as (base, ca):
        monkeypatch.setenv(vm_power.ENDPOINT_VARIABLE, base)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        yield compute, journal, bin_dir


def outputs(password: str) -> dict[str, object]:
    registry = (
        "/subscriptions/{}/resourceGroups/rg-gdbc26-ams/providers/Microsoft.ContainerRegistry/registries/acrteam02"
    )
    return {
        "agentResourceIds": {"team02": [resource_id("vm-team02")]},
        "teams": {
            "team02": {
                "registryName": "acrteam02",
                "registryId": registry.format(arm_compute.SUBSCRIPTION),
                "registryLoginServer": "acrteam02.azurecr.io",
                "registryAdminUsername": "acrteam02",
                "registryAdminPassword": password,
                "agentPool": "team02-pool",
                "namespace": "team02",
                "appUrl": "http://20.1.2.3/",
                "agents": [{"vmName": "vm-team02"}],
            }
        },
    }


def test_adding_a_team_writes_the_stack_file_then_runs_up(
    venue: Path, site: tuple[Compute, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, journal, bin_dir = site
    (bin_dir / "outputs.json").write_text("{}")
    plan = team.plan_add(STACK, None, root=venue)
    args = team_args(tmp=venue)
    assert team.apply(plan, ["--yes"], args, StaticToken()) == 0
    assert "musicstore:teamCount: 4" in (venue / f"Pulumi.{STACK}.yaml").read_text()
    assert journal_lines(journal)[-1] == f"pulumi up --stack {STACK} --yes"


def test_a_rotation_regenerates_first_then_runs_up_then_writes_the_handout_privately(
    venue: Path, site: tuple[Compute, Path, Path]
) -> None:
    compute, journal, bin_dir = site
    (bin_dir / "outputs.json").write_text(json.dumps(outputs("new-one")))
    plan = team.plan_rotate(STACK, "team02", root=venue)
    args = team_args(tmp=venue)
    assert team.apply(plan, ["--yes"], args, StaticToken()) == 0
    order = [line.split(" --show-secrets")[0] for line in journal_lines(journal) if not line.startswith("arm start")]
    assert order[:2] == ["pulumi stack output --json", "arm regenerateCredential acrteam02 password"]
    assert f"pulumi up --stack {STACK} --yes" in order[2:]
    assert compute.registries["acrteam02"] == {"password": 1}
    sheet = venue / "handouts" / STACK / "team02.md"
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    assert stat.S_IMODE(sheet.parent.stat().st_mode) == 0o700
    assert "new-one" not in sheet.read_text()


def test_a_handout_reads_the_stacks_outputs_itself_and_shows_no_password_unasked(
    tmp_path: Path, site: tuple[Compute, Path, Path]
) -> None:
    _, journal, bin_dir = site
    (bin_dir / "outputs.json").write_text(json.dumps(outputs("s3cret-Pa55")))
    assert handout.main([STACK, "--out", str(tmp_path / "out")]) == 0
    assert journal_lines(journal) == [f"pulumi stack output --json --show-secrets --stack {STACK}"]
    sheet = (tmp_path / "out" / STACK / "team02.md").read_text()
    assert "acrteam02.azurecr.io" in sheet and "s3cret-Pa55" not in sheet


def team_args(*, tmp: Path) -> argparse.Namespace:
    return argparse.Namespace(handouts=tmp / "handouts", show_passwords=False)


# --- the offline teardown dry run ----------------------------------------------------------


def test_the_offline_dry_run_lists_from_the_plan_even_once_the_stack_expired(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    (tmp_path / "expired").mkdir()
    live = project_copy.copied(tmp_path / "live", STACK, small_venue())
    gone = project_copy.copied(tmp_path / "expired", STACK, small_venue(expires=NOW - timedelta(days=2)))
    listed = teardown.planned_listing(STACK, live)
    assert teardown.planned_listing(STACK, gone) == listed
    assert ("azure-native:containerservice:ManagedCluster", "aks") in listed
    assert sum(t == "azure-native:containerregistry:Registry" for t, _ in listed) == 3
    assert not any(t.startswith("pulumi:providers:") for t, _ in listed)
