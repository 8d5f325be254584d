"""`musicstore status` over an organizer's day of 30 teams, all on real servers: a docker-registry
of its own per team (each team's repository is `mvcmusicstore`, so teams cannot share one; 30
start in about half a second), the Azure DevOps REST endpoints and the teams' apps served by
tests/support/organizer_day.py in a process of its own, and ARM's VM power endpoints
(tests/support/arm_compute.py). One round over the day runs once for the module (`--json` and
the HTML board, another as a table and the Markdown board); each test checks one behaviour of
it, or runs a round of its own where it needs another environment."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.config import load_stack
from ops import status, vm_power
from ops.status_board import Board, html_page, markdown
from ops.status_devops import DISK_TAG, NO_PAT, PAT_VARIABLE, Agents, Run
from ops.status_probes import NO_LOGIN, App, Image, TeamStatus, Vm
from promotion.registry_client import RegistryClient, RegistryError
from tests.support import arm_compute, fake_pulumi, organizer_day
from tests.support.arm_compute import Compute, StaticToken, resource_id
from tests.support.http_stand_in import JsonHandler, serving
from tests.support.local_registry import LocalRegistry, free_port, layer, push_image, registries_available
from tests.support.organizer_day import agent, build, job

pytestmark = pytest.mark.xdist_group("status")  # one day of 30 registries per run, not one per worker

STACK = "venue-ams"  # the 30-team venue
TIMEOUT = 3.0  # the command's default
TEAMS = tuple(f"team{n:02d}" for n in range(1, 31))
AGENT_DONE, FAILED_RUN, BUILDING, AGENT_JOB = "team03", "team04", "team05", "team06"
SLOW = ("team07", "team11", "team12")  # their apps hang past the timeout
OFFLINE, DEALLOCATED, TWO_AGENTS = "team08", "team09", "team10"
FAILING, UNREACHABLE = "team13", "team21"
NO_IMAGE = TEAMS[24:]  # nothing pushed yet
FULL_DISK = "team02"  # its agent's last clean-up found the disk 86 % used
WITHOUT_PROJECT = (AGENT_DONE, AGENT_JOB)  # their last run is read from their pool's agents
NO_ADDRESS = (FAILED_RUN, BUILDING, AGENT_JOB, OFFLINE, DEALLOCATED, *NO_IMAGE)
EXPECTED = {
    **dict.fromkeys(TEAMS, ("ready", "app answers 200")),
    FAILED_RUN: ("stuck", "last run failed"),
    BUILDING: ("building", "run 20250105.1 in progress"),
    AGENT_JOB: ("building", "run 20250106.1 in progress"),
    **dict.fromkeys(SLOW, ("stuck", "app: timed out")),
    OFFLINE: ("stuck", "no agent online"),
    DEALLOCATED: ("stuck", "agent VM deallocated"),
    FAILING: ("stuck", "app answers 503"),
    UNREACHABLE: ("stuck", "app: connection refused"),
    **dict.fromkeys(NO_IMAGE, ("stuck", "no image yet")),
}


def finished(minutes_ago: int) -> str:
    return f"{datetime.now(UTC) - timedelta(minutes=minutes_ago):%Y-%m-%dT%H:%M:%S.%f}0Z"  # 7 digits, as Azure DevOps


def vm_names(team: str) -> list[str]:
    return [f"vm-{team}-{i}" for i in range(1, 3 if team == TWO_AGENTS else 2)]


@dataclass
class Day:
    folder: Path
    pat: str
    devops: str  # the organizer_day server's URL: the organization, and the apps
    config: Path
    arm: str
    ca: Path
    outputs_file: Path
    outputs: dict[str, Any]
    digests: dict[str, dict[str, str]]  # team: tag: digest
    registries_seconds: float
    secrets: list[str] = field(default_factory=list)

    def argv(self, *extra: str) -> list[str]:
        return ["-s", STACK, "--outputs", str(self.outputs_file), "--organization", self.devops, *extra]

    def environment(self, patch: pytest.MonkeyPatch) -> None:
        patch.setenv(vm_power.ENDPOINT_VARIABLE, self.arm)
        patch.setenv("REQUESTS_CA_BUNDLE", str(self.ca))
        patch.setenv(PAT_VARIABLE, self.pat)


def _registries(folder: Path) -> tuple[dict[str, LocalRegistry], float]:
    started = time.monotonic()
    registries = {t: LocalRegistry(t, folder / t, username=f"acrgdbc{t}") for t in TEAMS}
    with ThreadPoolExecutor(8) as starting:
        list(starting.map(LocalRegistry.start, registries.values()))
    return registries, time.monotonic() - started


def _push(registry: LocalRegistry, team: str) -> dict[str, str]:
    """team01: builds 41 and 42, develop on 42. team02: 9 (develop) and 10 (latest, 1.4.0): 10 is
    newer than 9 as a number, not as text. The others: one build, develop on it (pushes take
    most of the day's set-up)."""
    client, digests = registry.client(), {}
    builds = {"team01": {"41": [], "42": ["develop"]}, "team02": {"9": ["develop"], "10": ["latest", "1.4.0"]}}
    for number, moving in builds.get(team, {str(int(team[-2:])): ["develop"]}).items():
        digest = push_image(client, "mvcmusicstore", [layer(f"{team}-{number}")])
        body, media_type = client.get_manifest("mvcmusicstore", digest)
        for tag in [number, *moving]:
            client.put_manifest("mvcmusicstore", tag, body, media_type)
            digests[tag] = digest
    return digests


def disk(agent: str, used: int) -> str:
    """The build tag azure-pipelines.yml's clean-up adds."""
    return f"{DISK_TAG}{agent}:{used}"


def _devops_day(pat: str) -> dict[str, Any]:
    pools, projects = [], {}
    for n, team in enumerate(TEAMS, start=1):
        number = f"202501{n:02d}.1"
        if team in (OFFLINE, DEALLOCATED):
            agents = [agent(vm, online=False) for vm in vm_names(team)]
        elif team == AGENT_JOB:
            agents = [agent(vm, running=job(number)) for vm in vm_names(team)]
        elif team in NO_IMAGE:
            agents = [agent(vm) for vm in vm_names(team)]
        else:
            last = job(number, result="succeeded", finish_time=finished(12))
            agents = [agent(vm, last=last) for vm in vm_names(team)]
        pools.append(organizer_day.pool(100 + n, f"gdbc-{team}", agents))
        if team in WITHOUT_PROJECT:
            continue
        if team == FAILED_RUN:
            # Its project's newest build is another pipeline's: the team's own pipeline failed.
            other = build("other.1", "completed", result="succeeded", definition=2, queued=finished(1))
            projects[f"{team}-musicstore"] = [
                build(number, "completed", result="failed", finish_time=finished(5)),
                other,
            ]
        elif team == BUILDING:
            projects[f"{team}-musicstore"] = [build(number, "inProgress")]
        elif team == TWO_AGENTS:
            # Each agent's disk as its own last build recorded it: the newer build ran on the first.
            first, second = vm_names(team)
            projects[f"{team}-musicstore"] = [
                build(number, "completed", result="succeeded", finish_time=finished(30), tags=[disk(first, 55)]),
                build("20250110.0", "completed", result="succeeded", queued="2024-12-31T08:00:00.0000000Z")
                | {"tags": [disk(second, 47), disk(first, 99)]},
            ]
        else:
            used = 86 if team == FULL_DISK else 40
            tags = [disk(vm_names(team)[0], used)]
            done = build(number, "completed", result="succeeded", finish_time=finished(30), tags=tags)
            projects[f"{team}-musicstore"] = [] if team in NO_IMAGE else [done]
    apps = {team: {"status": 200} for team in TEAMS if team not in NO_ADDRESS}
    apps.update({team: {"delay": 60} for team in SLOW})
    apps[FAILING] = {"status": 503}
    return {"pat": pat, "pools": pools, "projects": projects, "apps": apps}


def _outputs(day_url: str, registries: dict[str, LocalRegistry]) -> dict[str, Any]:
    """What `pulumi stack output --json --show-secrets` prints for the day's stack."""

    def app_url(team: str) -> str:
        if team == UNREACHABLE:
            return f"http://127.0.0.1:{free_port()}/"  # nothing listens there
        if team in NO_ADDRESS:
            return "(not assigned yet)" if team == TEAMS[-1] else ""
        return f"{day_url}/app/{team}/"

    teams = {}
    for team in TEAMS:
        r = registries[team]
        project = f"{day_url}/{team}-musicstore"
        teams[team] = {
            "registryName": f"acrgdbc{team}",
            "registryId": f"/subscriptions/{arm_compute.SUBSCRIPTION}/resourceGroups/rg-gdbc-dev/providers/"
            f"Microsoft.ContainerRegistry/registries/acrgdbc{team}",
            "image": f"{r.server}/mvcmusicstore",
            "registryLoginServer": r.server,
            "registryAdminUsername": r.username,
            "registryAdminPassword": r.password,
            "namespace": f"musicstore-{team}",
            "appUrl": app_url(team),
            "agentPool": f"gdbc-{team}",
            **(
                {}
                if team in WITHOUT_PROJECT
                else {
                    "devops": {
                        "projectUrl": project,
                        "repositoryUrl": f"{project}/_git/MvcMusicStore",
                        "toolkitRepositoryUrl": f"{project}/_git/musicstore-toolkit",
                        "pipelineUrl": f"{project}/_build?definitionId=1",
                        "toolkitImported": "True",
                    }
                }
            ),
            "agents": [
                {
                    "vmName": vm,
                    "privateIp": "10.0.2.4",
                    "adminUsername": "azureagent",
                    "adminPassword": secrets.token_urlsafe(12),
                }
                for vm in vm_names(team)
            ],
        }
    return {
        "agentResourceIds": {team: [resource_id(vm) for vm in vm_names(team)] for team in TEAMS},
        "clusterName": "aks-gdbc-dev",
        "kubeconfig": f"apiVersion: v1\nkind: Config\nusers:\n- user:\n    token: {secrets.token_urlsafe(24)}\n",
        "registryLoginServers": {team: registries[team].server for team in TEAMS},
        "resourceGroupName": "rg-gdbc-dev",
        "teams": teams,
    }


@contextlib.contextmanager
def organizers_day(folder: Path) -> Iterator[Day]:
    """The whole day, up for the block."""
    with contextlib.ExitStack() as stack:
        registries, seconds = _registries(folder / "registries")
        for registry in registries.values():
            stack.callback(registry.stop)
        pushed = [team for team in TEAMS if team not in NO_IMAGE]
        with ThreadPoolExecutor(8) as pushing:
            digests = dict(zip(pushed, pushing.map(lambda t: _push(registries[t], t), pushed), strict=True))
        states = {vm: "deallocated" if team == DEALLOCATED else "running" for team in TEAMS for vm in vm_names(team)}
        arm, ca = stack.enter_context(arm_compute.serving(Compute(states, folder / "journal"), folder / "tls"))
        pat = "pat-" + secrets.token_urlsafe(20)
        day_url, config = stack.enter_context(organizer_day.serving(_devops_day(pat), folder / "devops"))
        outputs = _outputs(day_url, registries)
        outputs_file = folder / "outputs.json"
        outputs_file.write_text(json.dumps(outputs, indent=2), encoding="utf-8")
        hidden = [pat, outputs["kubeconfig"].split("token: ")[1].strip()]
        hidden += [t["registryAdminPassword"] for t in outputs["teams"].values()]
        hidden += [a["adminPassword"] for t in outputs["teams"].values() for a in t["agents"]]
        yield Day(folder, pat, day_url, config, arm, ca, outputs_file, outputs, digests, seconds, hidden)


@dataclass(frozen=True)
class Round:
    code: int
    out: str
    err: str
    wall: float
    board: Path

    def document(self) -> dict[str, Any]:
        return dict(json.loads(self.out))

    def teams(self) -> dict[str, dict[str, Any]]:
        return {t["team"]: t for t in self.document()["teams"]}


def run_status(argv: list[str], *, login: StaticToken | None, board: Path) -> Round:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = status.main([*argv, "--board", str(board)], login=login)
    return Round(code, out.getvalue(), err.getvalue(), time.monotonic() - started, board)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    if not registries_available():
        pytest.skip("scripts/bootstrap --system installs docker-registry")
    with organizers_day(tmp_path_factory.mktemp("day")) as found:
        yield found


@pytest.fixture(scope="module")
def as_json(day: Day) -> Round:
    with pytest.MonkeyPatch.context() as patch:
        day.environment(patch)
        return run_status(day.argv("--json"), login=StaticToken(), board=day.folder / "board.html")


@pytest.fixture(scope="module")
def as_table(day: Day) -> Round:
    with pytest.MonkeyPatch.context() as patch:
        day.environment(patch)
        return run_status(day.argv("--timeout", "1"), login=StaticToken(), board=day.folder / "board.md")


def test_every_team_comes_back_with_the_verdict_its_day_gives(as_json: Round) -> None:
    assert as_json.code == 0, as_json.err
    found = {team: (t["verdict"], t["reason"]) for team, t in as_json.teams().items()}
    assert found == EXPECTED
    assert as_json.document()["summary"] == {"teams": 30, "ready": 14, "building": 2, "stuck": 14}


def test_apps_that_hang_fail_or_refuse_are_stuck_and_do_not_hold_up_the_others(as_json: Round) -> None:
    apps = {team: t["app"] for team, t in as_json.teams().items()}
    assert [apps[team]["error"] for team in SLOW] == ["timed out"] * 3
    assert apps[UNREACHABLE]["error"] == "connection refused"
    assert (apps[FAILING]["status"], apps[FAILING]["error"]) == (503, None)
    # Each hung request waits out the 3 s timeout: one after another, the three would take 9 s.
    assert as_json.document()["seconds"] < 2 * TIMEOUT


def test_agents_online_are_counted_from_the_pool(as_json: Round) -> None:
    agents = {team: t["agent"] for team, t in as_json.teams().items()}
    assert agents[TWO_AGENTS] == {"online": 2, "total": 2, "error": None}
    assert agents[OFFLINE] == {"online": 0, "total": 1, "error": None}


def test_a_failed_last_run_makes_the_team_stuck(as_json: Round) -> None:
    team = as_json.teams()[FAILED_RUN]
    assert (team["verdict"], team["reason"]) == ("stuck", "last run failed")
    assert team["run"]["source"] == "pipeline" and team["run"]["result"] == "failed"


def test_a_run_in_progress_makes_the_team_building_from_the_pipeline_or_the_agents_job(as_json: Round) -> None:
    teams = as_json.teams()
    assert teams[BUILDING]["verdict"] == "building" and teams[BUILDING]["run"]["source"] == "pipeline"
    assert teams[AGENT_JOB]["verdict"] == "building" and teams[AGENT_JOB]["run"]["source"] == "agents"
    done = teams[AGENT_DONE]["run"]
    assert (done["source"], done["status"], done["result"]) == ("agents", "completed", "succeeded")


def test_the_image_is_the_highest_build_tag_with_the_moving_tags_on_its_digest(as_json: Round, day: Day) -> None:
    images = {team: t["image"] for team, t in as_json.teams().items()}
    odd, even = images["team01"], images["team02"]
    assert odd == {"tag": "42", "tags": ["develop"], "digest": day.digests["team01"]["42"], "error": None}
    assert even == {"tag": "10", "tags": ["latest"], "digest": day.digests["team02"]["10"], "error": None}


def test_the_table_shows_the_image_tag_and_its_shortened_digest(as_table: Round, day: Day) -> None:
    assert as_table.code == 0, as_table.err
    digest = day.digests["team01"]["42"]
    row = next(line for line in as_table.out.splitlines() if "team01" in line)
    assert f"42 (develop) {digest[: len('sha256:') + 12]}" in row and digest not in row
    assert "30 teams: 14 ready, 2 building, 14 stuck" in as_table.out


def test_each_agents_disk_is_its_newest_builds_record(as_json: Round) -> None:
    teams = as_json.teams()
    assert teams["team01"]["disks"] == [{"agent": "vm-team01-1", "usedPercent": 40, "build": "20250101.1"}]
    assert [(d["agent"], d["usedPercent"]) for d in teams[TWO_AGENTS]["disks"]] == [
        (f"vm-{TWO_AGENTS}-1", 55),  # its newer build's, not the 99 an older one recorded
        (f"vm-{TWO_AGENTS}-2", 47),
    ]
    assert teams[BUILDING]["disks"] == [] and teams[AGENT_DONE]["disks"] == []


def test_a_disk_above_80_percent_is_flagged_and_named_in_a_note(as_json: Round, as_table: Round) -> None:
    [note] = [n for n in as_json.document()["notes"] if n.startswith("agent disk above 80% used")]
    assert note.startswith(f"agent disk above 80% used: {FULL_DISK} (vm-{FULL_DISK}-1 86%)")
    assert as_json.teams()[FULL_DISK]["verdict"] == "ready"  # a warning, not a verdict
    rows = {line.split("|")[1].strip(): line for line in as_table.board.read_text().splitlines() if "| team" in line}
    assert "| 86% (above 80%) |" in rows[FULL_DISK] and "| 40% |" in rows["team01"]
    assert f"| vm-{TWO_AGENTS}-1 55%, vm-{TWO_AGENTS}-2 47% |" in rows[TWO_AGENTS]
    assert "| unknown: no pipeline project |" in rows[AGENT_DONE] and "| not reported yet |" in rows[BUILDING]
    assert "note: agent disk above 80% used" in as_table.out


def test_the_pipeline_writes_the_disk_tag_the_board_reads() -> None:
    pipeline = (organizer_day.ROOT / "azure-pipelines.yml").read_text()
    assert f"##vso[build.addbuildtag]{DISK_TAG}$(Agent.Name):$used" in pipeline


def test_a_registry_without_the_repository_has_no_image_yet(as_json: Round) -> None:
    team = as_json.teams()[NO_IMAGE[0]]
    assert team["image"] == {"tag": None, "tags": [], "digest": None, "error": None}
    assert (team["verdict"], team["reason"]) == ("stuck", "no image yet")


def test_a_deallocated_agent_vm_makes_the_team_stuck(as_json: Round) -> None:
    team = as_json.teams()[DEALLOCATED]
    assert team["vms"] == [{"name": f"vm-{DEALLOCATED}-1", "power": "deallocated"}]
    assert as_json.teams()[TWO_AGENTS]["vms"][1] == {"name": f"vm-{TWO_AGENTS}-2", "power": "running"}


def test_the_board_files_hold_every_team_and_the_summary(as_json: Round, as_table: Round) -> None:
    page = as_json.board.read_text(encoding="utf-8")
    assert len(re.findall(r'<td class="verdict (?:ready|building|stuck)">', page)) == 30
    assert "30 teams: 14 ready, 2 building, 14 stuck" in page and as_json.document()["checkedAt"] in page
    assert 'http-equiv="refresh"' not in page  # only a watched board reloads itself
    rows = [line for line in as_table.board.read_text(encoding="utf-8").splitlines() if line.startswith("| team")]
    assert len(rows) == 31  # the header and a row per team
    assert "**30 teams: 14 ready, 2 building, 14 stuck**" in as_table.board.read_text(encoding="utf-8")


def test_no_password_or_pat_is_shown_anywhere(as_json: Round, as_table: Round, day: Day) -> None:
    shown = [as_json.out, as_json.err, as_table.out, as_table.err]
    shown += [as_json.board.read_text(encoding="utf-8"), as_table.board.read_text(encoding="utf-8")]
    assert len(day.secrets) == 2 + 30 + 31
    assert [s for s in day.secrets if any(s in text for text in shown)] == []


def test_without_a_pat_the_devops_columns_say_so_and_the_rest_runs(
    day: Day, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    day.environment(monkeypatch)
    monkeypatch.delenv(PAT_VARIABLE)
    argv = ["-s", STACK, "--outputs", str(day.outputs_file), "--json", "--timeout", "1"]  # the stack's organization
    done = run_status(argv, login=StaticToken(), board=tmp_path / "board.html")
    assert done.code == 0, done.err
    document = done.document()
    assert document["organization"] == load_stack(STACK).agents.organization_url
    assert {(t["agent"]["error"], t["run"]["error"]) for t in document["teams"]} == {(NO_PAT, NO_PAT)}
    assert done.teams()["team01"]["image"]["tag"] == "42" and done.teams()["team01"]["verdict"] == "ready"
    assert NO_PAT in done.board.read_text(encoding="utf-8")


def test_without_an_azure_login_the_vm_column_says_so(
    day: Day, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    day.environment(monkeypatch)
    for variable in [v for v in os.environ if v.startswith("ARM_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `az` there
    done = run_status(day.argv("--json", "--timeout", "1"), login=None, board=tmp_path / "board.html")
    assert done.code == 0, done.err
    assert {vm["power"] for t in done.document()["teams"] for vm in t["vms"]} == {NO_LOGIN}
    assert done.document()["notes"][0].startswith("VM power unknown: no Azure login")
    assert done.teams()["team01"]["verdict"] == "ready"


def test_the_outputs_come_from_pulumi_with_their_secrets(
    day: Day, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    fake_pulumi.install(tmp_path, journal).write_text(day.outputs_file.read_text())
    day.environment(monkeypatch)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    done = run_status(
        ["-s", STACK, "--organization", day.devops, "--json", "--timeout", "1"],
        login=StaticToken(),
        board=tmp_path / "b.md",
    )
    assert done.code == 0, done.err
    assert journal.read_text().splitlines() == [f"pulumi stack output --json --show-secrets --stack {STACK}"]
    assert len(done.document()["teams"]) == 30


def test_a_registry_and_an_organization_that_do_not_answer_are_those_cells_alone(
    day: Day, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outputs = json.loads(day.outputs_file.read_text())
    outputs["teams"] = {team: outputs["teams"][team] for team in ("team01", "team02")}
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    outputs["teams"]["team02"]["registryLoginServer"] = closed
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    day.environment(monkeypatch)
    nobody = f"http://127.0.0.1:{free_port()}"
    argv = ["-s", STACK, "--outputs", str(tmp_path / "outputs.json"), "--organization", nobody, "--json"]
    done = run_status(argv, login=StaticToken(), board=tmp_path / "b.md")
    assert done.code == 0, done.err
    teams = done.teams()
    assert teams["team02"]["image"]["error"] == f"cannot reach {closed}: connection refused"
    assert teams["team01"]["image"]["tag"] == "42"  # its own registry answered
    for team in teams.values():
        assert team["agent"]["error"] == team["run"]["error"] == "Azure DevOps: connection refused"
        assert team["app"]["status"] == 200  # the apps are probed all the same


def test_a_probe_that_raises_shows_it_in_its_own_cell(
    day: Day, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outputs = json.loads(day.outputs_file.read_text())
    outputs["teams"] = {team: outputs["teams"][team] for team in ("team01", "team02")}
    outputs["teams"]["team02"]["registryLoginServer"] = "127.0.0.1:not-a-port"
    outputs["agentResourceIds"]["team02"] = ["/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/nic/x"]
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    day.environment(monkeypatch)
    argv = ["-s", STACK, "--outputs", str(tmp_path / "outputs.json"), "--organization", day.devops, "--json"]
    done = run_status(argv, login=StaticToken(), board=tmp_path / "b.html")
    assert done.code == 0, done.err
    broken = done.teams()["team02"]
    assert broken["image"]["error"].startswith("InvalidURL: ") and "\n" not in broken["image"]["error"]
    assert broken["vms"] == [{"name": "x", "power": "unknown: not a VM's resource id"}]
    assert done.teams()["team01"]["verdict"] == broken["verdict"] == "ready"


# `python -m ops.status ARGS` as a terminal starts it, Ctrl-C raising KeyboardInterrupt. A process
# inherits an ignored SIGINT, and Python then leaves it ignored: a shell without job control
# ignores it in every command it puts in the background (`cmd &`, POSIX "Shell Command
# Language", 2.11), so a test run started that way would have its watch ignore the Ctrl-C.
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'ops.status'; runpy.run_module('ops.status', run_name='__main__', alter_sys=True)"
)


def test_watch_rewrites_the_board_every_round_until_ctrl_c(day: Day, tmp_path: Path) -> None:
    page = tmp_path / "board.html"
    # Its own process, so no test credential: no ARM_* login and no `az` on PATH, VMs unknown.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARM_")}
    environment.update({PAT_VARIABLE: day.pat, "PYTHONPATH": str(organizer_day.ROOT), "PATH": str(tmp_path)})
    argv = [*day.argv("--timeout", "1", "--watch", "0.2", "--json", "--board", str(page))]
    # Files, not pipes: nobody reads the rounds the watch prints, and a full pipe would stop it.
    printed, said = tmp_path / "watch.out", tmp_path / "watch.err"
    with printed.open("wb") as stdout, said.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", AS_FROM_A_TERMINAL, *argv],
            cwd=organizer_day.ROOT,
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120
        while "\n" not in printed.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first = json.loads(printed.read_text().split("\n", 1)[0] or "null")
        assert first["summary"]["building"] == 2
        assert '<meta http-equiv="refresh" content="1">' in page.read_text(encoding="utf-8")
        config = json.loads(day.config.read_text())
        config["projects"][f"{BUILDING}-musicstore"] = [
            build("20250105.2", "completed", result="failed", finish_time=finished(0))
        ]
        organizer_day.write_config(day.config, config)
        deadline = time.monotonic() + 20
        while "20250105.2 failed" not in page.read_text(encoding="utf-8") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "20250105.2 failed, just now" in page.read_text(encoding="utf-8")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, said.read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
        restored = json.loads(day.config.read_text())
        restored["projects"][f"{BUILDING}-musicstore"] = [build("20250105.1", "inProgress")]
        organizer_day.write_config(day.config, restored)


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        (
            "not json {",
            [],
            'error: --outputs = "OUTPUTS": must be the JSON of `pulumi stack output --json --show-secrets`',
        ),
        ("{}", [], "error: the outputs have no `teams` (a stack never deployed has none)"),
        ('{"teams": "[secret]"}', [], 'error: stack output teams = "[secret]": take the outputs with --show-secrets'),
        ("[]", [], 'error: --outputs = "OUTPUTS": must be a JSON object of outputs'),
        ("{}", ["-s", "nowhere"], 'error: --stack = "nowhere": must be a stack with a Pulumi.<stack>.yaml'),
        ("{}", ["--board", "board.txt"], 'error: --board = "board.txt": must end in .html, .htm or .md'),
        ("{}", ["--timeout", "0"], "error: musicstore status: argument --timeout: '0' is not a number of seconds"),
        (
            "{}",
            ["--organization", "dev.azure.com/x"],
            'error: --organization = "dev.azure.com/x": must be an http(s) URL',
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, argv: list[str], message: str
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(content)
    try:
        code = status.main(["-s", STACK, "--outputs", str(outputs), *argv])
    except SystemExit as done:
        code = int(done.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(message.replace("OUTPUTS", str(outputs))), err


def test_the_tags_follow_the_registrys_link_header_and_only_to_its_own_host() -> None:
    pages = {"": (["1", "2"], "/v2/mvcmusicstore/tags/list?n=2&last=2"), "2": (["3"], None)}

    class Paging(JsonHandler):
        elsewhere = False

        def do_GET(self) -> None:  # noqa: N802
            last = re.search(r"last=([^&]*)", self.path)
            tags, following = pages[last[1] if last else ""]
            payload = json.dumps({"name": "mvcmusicstore", "tags": tags}).encode()
            self.send_response(200)
            if following:
                target = f"http://elsewhere.example{following}" if self.elsewhere else following
                self.send_header("Link", f'<{target}>; rel="next"')
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    with serving(Paging) as base:
        assert RegistryClient(base.removeprefix("http://"), "u", "p").tags("mvcmusicstore") == ["1", "2", "3"]
    Paging.elsewhere = True
    with serving(Paging) as base, pytest.raises(RegistryError, match="to another host"):
        RegistryClient(base.removeprefix("http://"), "u", "p").tags("mvcmusicstore")


def test_the_board_escapes_every_value() -> None:
    nasty = "<script>alert(1)</script> | *x*"
    team = TeamStatus(
        nasty,
        Agents(error=nasty),
        Run(error=nasty),
        Image(error=nasty),
        App("", error=nasty),
        (Vm("vm", nasty),),
        "stuck",
        nasty,
    )
    board = Board("dev", "https://dev.azure.com/x", datetime.now(UTC), 1.0, (team,))
    page, table = html_page(board, refresh=30), markdown(board)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<meta http-equiv="refresh" content="30">' in page
    [row] = [line for line in table.splitlines() if "alert" in line]
    assert "<script>" not in row and row.count(" | ") == 7  # the cells' own bars are escaped


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("gdbcdevred1a2b3c.azurecr.io/mvcmusicstore:develop", "mvcmusicstore"),  # as the stack exports it
        ("gdbcdevred1a2b3c.azurecr.io/apps/store@sha256:" + "a" * 64, "apps/store"),
        ("gdbcdevred1a2b3c.azurecr.io/mvcmusicstore", "mvcmusicstore"),
        ("elsewhere.io/other:1", "mvcmusicstore"),  # not the team's registry: the pipeline's default
    ],
)
def test_the_repository_probed_is_the_one_the_teams_image_output_names(image: str, repository: str) -> None:
    assert status._repository(image, "gdbcdevred1a2b3c.azurecr.io") == repository
