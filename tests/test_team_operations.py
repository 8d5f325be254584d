"""One team's operations (issue 16): each is planned offline, from the stack file as the change
leaves it, and the plan lists that team's resources only; an apply carries it out through the
same `musicstore up` an organizer types, against a fake `pulumi` and ARM's local stand-in."""

from __future__ import annotations

import json
import re
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offline import changes, recording
from offline.changes import CREATE, DELETE, REPLACE, UPDATE, WITH_REPLACED, Change
from ops import handout, team, team_apply, team_file, teardown, vm_power
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


def test_replacing_an_agent_replaces_its_vm_and_what_azure_ties_to_it(venue: Path) -> None:
    plan = team.plan_replace_agent(STACK, "team02", 1, root=venue)
    vm = next(c for c in plan.changes if c.type == "azure-native:compute:VirtualMachine")
    assert plan.up_args == ("--replace", vm.urn)
    # A new VM loses its extensions, its schedule names it, and it is a new identity: each is
    # replaced with it (replace_with), and nothing else changes.
    assert sorted((c.action, c.name) for c in plan.changes) == [
        (REPLACE, "team02-agent1"),
        (REPLACE, "team02-agent1-bootstrap"),
        (REPLACE, "team02-agent1-pat-reader"),
        (REPLACE, "team02-agent1-shutdown"),
    ]
    assert plan.others == []


def test_the_agent_vm_is_deleted_before_it_is_made_again(venue: Path) -> None:
    # Asked on the command line, a replacement creates first unless the resource says otherwise:
    # the new VM would find its name and network interface taken.
    rec = recording.run(STACK, root=venue, now=NOW)
    assert {r.name: r.delete_before_replace for r in rec.of_type("azure-native:compute:VirtualMachine")} == {
        f"{t}-agent1": True for t in TEAMS
    }


def test_rotating_a_password_updates_that_teams_service_connection_alone(venue: Path) -> None:
    plan = team.plan_rotate(STACK, "team03", root=venue)
    assert [(c.action, c.name, c.keys) for c in plan.changes] == [
        (UPDATE, "team03-devops-registry-connection", ("dockerPassword",))
    ]
    assert plan.rotates and plan.what == "team rotate-password team03"


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
    """A fake `pulumi` first on PATH that journals what it is asked and answers `outputs.json` and
    `preview.json`, and ARM's stand-in with team01's and team02's agents deallocated and team02's
    registry."""
    journal, bin_dir = tmp_path / "journal", tmp_path / "bin"
    fake_pulumi.install(bin_dir, journal)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    states = {"vm-team01": "deallocated", "vm-team02": "deallocated"}
    compute = Compute(states, journal, registries={"acrteam02": {}})
    with arm_compute.serving(compute, tmp_path / "tls") as (base, ca):
        monkeypatch.setenv(vm_power.ENDPOINT_VARIABLE, base)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        yield compute, journal, bin_dir


def outputs(password: str) -> dict[str, object]:
    registry = (
        "/subscriptions/{}/resourceGroups/rg-gdbc26-ams/providers/Microsoft.ContainerRegistry/registries/acrteam02"
    )
    sheet = {
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
    return {
        "agentResourceIds": {team: [resource_id(f"vm-{team}")] for team in ("team01", "team02")},
        "teams": {"team02": sheet, "team01": {**sheet, "registryName": "acrteam01", "agents": []}},
    }


def previewing(bin_dir: Path, steps: list[tuple[str, str]]) -> None:
    """What the real `pulumi preview --json` would print: a step per (op, urn), the rest left out."""
    (bin_dir / "preview.json").write_text(json.dumps({"steps": [{"op": op, "urn": urn} for op, urn in steps]}))


def as_planned(plan: team.TeamPlan) -> list[tuple[str, str]]:
    ops = {CREATE: "create", DELETE: "delete", UPDATE: "update", REPLACE: "replace", WITH_REPLACED: "update"}
    return [(ops[c.action], c.urn) for c in plan.changes]


def calls(journal: Path) -> list[str]:
    """The journal, each `--target URN` pair as one word."""
    return [re.sub(r"( --target \S+)+", " --target…", line) for line in journal_lines(journal)]


def test_an_added_team_is_previewed_on_its_own_resources_then_brought_up_with_no_agent_started(
    venue: Path, site: tuple[Compute, Path, Path]
) -> None:
    _, journal, bin_dir = site
    (bin_dir / "outputs.json").write_text(json.dumps(outputs("pw")))
    plan = team.plan_add(STACK, None, root=venue)
    previewing(bin_dir, as_planned(plan))
    assert team_apply.apply(plan, ["--yes"], login=StaticToken()) == 0
    assert "musicstore:teamCount: 4" in (venue / f"Pulumi.{STACK}.yaml").read_text()
    assert calls(journal) == [
        f"pulumi preview --json --stack {STACK} --target…",
        f"pulumi up --stack {STACK} --target… --yes",
    ]
    targeted = re.findall(r"--target (\S+)", journal_lines(journal)[-1])
    assert sorted(targeted) == sorted(c.urn for c in plan.changes)


def test_a_real_preview_that_changes_another_team_stops_everything_and_keeps_the_file(
    venue: Path, site: tuple[Compute, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, journal, bin_dir = site
    plan = team.plan_remove(STACK, "team02", root=venue)
    other = f"urn:pulumi:{STACK}::musicstore::musicstore:azure:BuildAgentVm$azure-native:compute:VirtualMachine::"
    other += "team01-agent1"
    previewing(bin_dir, [*as_planned(plan), ("update", other)])
    assert team_apply.apply(plan, ["--yes"], login=StaticToken()) == 1
    assert (venue / f"Pulumi.{STACK}.yaml").read_text() == small_venue()
    assert calls(journal) == [f"pulumi preview --json --stack {STACK} --target…"]  # no agent, no up
    err = capsys.readouterr().err
    assert "the real preview changes team01-agent1, which the plan does not" in err
    assert f"nothing applied: Pulumi.{STACK}.yaml is as it was" in err


def test_a_removal_starts_that_teams_agents_alone_before_its_up(venue: Path, site: tuple[Compute, Path, Path]) -> None:
    _, journal, bin_dir = site
    (bin_dir / "outputs.json").write_text(json.dumps(outputs("pw")))
    plan = team.plan_remove(STACK, "team02", root=venue)
    previewing(bin_dir, as_planned(plan))
    assert team_apply.apply(plan, ["--yes"], login=StaticToken()) == 0
    assert [line for line in calls(journal) if not line.startswith("pulumi stack output")] == [
        f"pulumi preview --json --stack {STACK} --target…",
        "arm start vm-team02",
        f"pulumi up --stack {STACK} --target… --yes",
    ]
    assert '    - "team01"\n    - "team03"\n' in (venue / f"Pulumi.{STACK}.yaml").read_text()


def test_a_rotation_regenerates_after_the_preview_then_runs_up_then_rewrites_that_teams_handout_alone(
    venue: Path, site: tuple[Compute, Path, Path]
) -> None:
    compute, journal, bin_dir = site
    handouts = venue / "handouts"
    # The day's handouts, written with the passwords as they were.
    handout.write(handout.sheets(STACK, outputs("old-one"), show_passwords=True), handouts / STACK)
    (bin_dir / "outputs.json").write_text(json.dumps(outputs("new-one")))
    plan = team.plan_rotate(STACK, "team02", root=venue)
    previewing(bin_dir, [])  # the password is not new yet: the preview changes nothing
    assert team_apply.apply(plan, ["--yes"], handouts=handouts, login=StaticToken()) == 0
    assert [line.replace(" --show-secrets", "") for line in calls(journal)] == [
        f"pulumi preview --json --stack {STACK} --target…",
        f"pulumi stack output --json --stack {STACK}",
        "arm regenerateCredential acrteam02 password",
        f"pulumi up --stack {STACK} --target… --yes",
        f"pulumi stack output --json --stack {STACK}",
    ]
    assert compute.registries["acrteam02"] == {"password": 1}
    folder = handouts / STACK
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == dict.fromkeys(
        ["team01.md", "team02.md", "teams.csv"], 0o600
    )
    # team02's sheet and row no longer hold the leaked password, nor the new one (not asked for);
    # team01's, untouched, keep theirs.
    assert "old-one" not in (folder / "team02.md").read_text() and "new-one" not in (folder / "team02.md").read_text()
    rows = {row.split(",")[0]: row for row in (folder / "teams.csv").read_text().splitlines()[1:]}
    assert "old-one" not in rows["team02"] and "new-one" not in rows["team02"] and "old-one" in rows["team01"]
    assert "old-one" in (folder / "team01.md").read_text()


def test_a_failed_preview_says_the_engines_error_and_keeps_the_file(
    venue: Path, site: tuple[Compute, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = site[2]
    plan = team.plan_remove(STACK, "team02", root=venue)
    # With --json the engine's errors are diagnostics in the document, and stderr stays empty.
    error = {"message": "error: Target(s) could not be found: urn:pulumi:...\n", "severity": "error"}
    (bin_dir / "preview.json").write_text(json.dumps({"steps": [], "diagnostics": [error]}))
    (bin_dir / "exits.json").write_text(json.dumps({"preview": 255}))
    assert team_apply.apply(plan, ["--yes"], login=StaticToken()) == 1
    err = capsys.readouterr().err
    assert f"error: pulumi preview --stack {STACK}: error: Target(s) could not be found: urn:pulumi:..." in err
    assert (venue / f"Pulumi.{STACK}.yaml").read_text() == small_venue()


def test_a_failed_up_keeps_the_change_and_names_what_completes_it(
    venue: Path, site: tuple[Compute, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = site[2]
    plan = team.plan_add(STACK, None, root=venue)
    previewing(bin_dir, as_planned(plan))
    (bin_dir / "exits.json").write_text(json.dumps({"up": 255}))  # declined at the prompt, say
    assert team_apply.apply(plan, [], login=StaticToken()) == 255
    assert "musicstore:teamCount: 4" in (venue / f"Pulumi.{STACK}.yaml").read_text()
    err = capsys.readouterr().err
    assert f"pulumi up exited 255: Pulumi.{STACK}.yaml keeps the change; `musicstore up -s {STACK}` completes it" in err


def test_a_handout_reads_the_stacks_outputs_itself_and_shows_no_password_unasked(
    tmp_path: Path, site: tuple[Compute, Path, Path]
) -> None:
    _, journal, bin_dir = site
    (bin_dir / "outputs.json").write_text(json.dumps(outputs("s3cret-Pa55")))
    assert handout.main([STACK, "--out", str(tmp_path / "out")]) == 0
    assert journal_lines(journal) == [f"pulumi stack output --json --show-secrets --stack {STACK}"]
    sheet = (tmp_path / "out" / STACK / "team02.md").read_text()
    assert "acrteam02.azurecr.io" in sheet and "s3cret-Pa55" not in sheet


def test_what_follows_the_double_dash_is_pulumi_ups_never_a_team(capsys: pytest.CaptureFixture[str]) -> None:
    assert team.main(["add", "-s", "dev", "--apply", "--", "--yes"]) == 2
    assert capsys.readouterr().err.strip() == "error: name the team to add: the stack lists its teams"


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
