"""`musicstore agents` and `musicstore up` against a local HTTPS stand-in of ARM's compute
endpoints and a fake `pulumi` on PATH (the real engine cannot reach Azure): both append what they
are asked to one journal, so its order is the order things happened."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest

from infra import stack_files
from infra.config import load_stack
from offline import recording
from offline.plan import make_plan
from ops import agents, cli, vm_power
from tests.support import arm_compute, fake_pulumi
from tests.support.arm_compute import Compute, StaticToken, journal_lines, resource_id

STACK = "dev"
VMS = {"red": ["vm-red-1", "vm-red-2"], "blue": ["vm-blue-1"]}
OUTPUTS = {
    "agentResourceIds": {team: [resource_id(vm) for vm in vms] for team, vms in VMS.items()},
    "teams": "[secret]",
    "resourceGroupName": "rg-gdbc-dev",
}
ALLOCATION_FAILED = {"code": "AllocationFailed", "message": "Allocation failed. We do not have sufficient capacity."}


@dataclass(frozen=True)
class Site:
    compute: Compute
    journal: Path
    bin: Path

    def outputs(self, outputs: dict[str, Any]) -> None:
        (self.bin / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")

    def arm_calls(self) -> list[str]:
        return [line for line in journal_lines(self.journal) if line.startswith("arm ")]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """ARM with red-1 and red-2 deallocated and blue-1 running, a fake `pulumi` first on PATH
    that answers the outputs above, and the variables that point the command at both."""
    journal, bin_dir = tmp_path / "journal", tmp_path / "bin"
    fake_pulumi.install(bin_dir, journal)
    states = {"vm-red-1": "deallocated", "vm-red-2": "deallocated", "vm-blue-1": "running"}
    compute = Compute(states, journal)
    with arm_compute.serving(compute, tmp_path / "tls") as (base, ca):
        monkeypatch.setenv(vm_power.ENDPOINT_VARIABLE, base)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
        result = Site(compute, journal, bin_dir)
        result.outputs(OUTPUTS)
        yield result


def errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def exit_status(argv: list[str]) -> int:
    """`musicstore ARGV`'s exit status, whether returned or raised by the argument parser."""
    try:
        return cli.main(argv)
    except SystemExit as done:
        return int(done.code or 0)


def test_start_starts_the_deallocated_agents_and_leaves_the_running_one(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    assert agents.main(["start", "-s", STACK], login=StaticToken()) == 0
    assert sorted(site.arm_calls()) == ["arm start vm-red-1", "arm start vm-red-2"]
    assert set(site.compute.states.values()) == {"running"}
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "red   vm-red-1   running, started now",
        "red   vm-red-2   running, started now",
        "blue  vm-blue-1  running, as it was",
    ]


def test_a_start_that_fails_has_its_own_line_and_exit_status_1(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.compute.failures["vm-red-2"] = ALLOCATION_FAILED
    assert agents.main(["start", "-s", STACK], login=StaticToken()) == 1
    captured = capsys.readouterr()
    assert errors(captured.err) == [
        "error: vm-red-2 (team red): (AllocationFailed) Allocation failed. We do not have sufficient capacity."
    ]
    assert "red   vm-red-1   running, started now" in captured.out and "vm-red-2" not in captured.out
    assert site.compute.states["vm-red-1"] == "running" and site.compute.states["vm-red-2"] == "deallocated"


def test_up_starts_the_agents_before_it_runs_pulumi_up(site: Site) -> None:
    assert agents.up(["-s", STACK, "--yes", "--skip-preview"], login=StaticToken()) == 0
    journal = journal_lines(site.journal)
    assert journal[0] == f"pulumi stack output --json --stack {STACK}"
    assert sorted(journal[1:3]) == ["arm start vm-red-1", "arm start vm-red-2"]
    assert journal[3:] == [f"pulumi up --stack {STACK} --yes --skip-preview"]


def test_up_runs_no_pulumi_up_while_an_agent_cannot_start(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.compute.failures["vm-red-1"] = ALLOCATION_FAILED
    assert agents.up(["-s", STACK, "--", "--yes"], login=StaticToken()) == 1
    assert not [line for line in journal_lines(site.journal) if line.startswith("pulumi up")]
    err = capsys.readouterr().err
    assert errors(err) == [f"error: vm-red-1 (team red): (AllocationFailed) {ALLOCATION_FAILED['message']}"]
    assert f"pulumi up not run: every agent of {STACK} must be running first" in err


def test_stop_deallocates_the_running_agents_of_one_team(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.compute.states["vm-red-2"] = "running"
    assert agents.main(["stop", "-s", STACK, "--team", "red"], login=StaticToken()) == 0
    assert site.arm_calls() == ["arm deallocate vm-red-2"]
    assert site.compute.states == {"vm-red-1": "deallocated", "vm-red-2": "deallocated", "vm-blue-1": "running"}
    out = capsys.readouterr().out
    assert "vm-red-2  deallocated, deallocated now" in out and "vm-blue-1" not in out


def test_status_reads_each_power_state_and_changes_nothing(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.compute.states["vm-red-2"] = "stopped"
    assert agents.main(["status", "-s", STACK], login=StaticToken()) == 0
    assert site.arm_calls() == []
    assert capsys.readouterr().out.splitlines() == [
        "red   vm-red-1   deallocated",
        "red   vm-red-2   stopped",
        "blue  vm-blue-1  running",
    ]


def test_an_agent_arm_does_not_know_is_a_failure_of_its_own(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    del site.compute.states["vm-blue-1"]
    assert agents.main(["status", "-s", STACK], login=StaticToken()) == 1
    [line] = errors(capsys.readouterr().err)
    assert line.startswith("error: vm-blue-1 (team blue): (ResourceNotFound) The Resource")


def test_a_stack_never_deployed_has_nothing_to_start_and_up_goes_on(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.outputs({})
    assert cli.main(["up", "-s", STACK]) == 0  # no login needed: nothing is asked of ARM
    assert f"{STACK}: no outputs, never deployed: no build agent to act on" in capsys.readouterr().out
    assert journal_lines(site.journal) == [f"pulumi stack output --json --stack {STACK}", f"pulumi up --stack {STACK}"]


def test_a_stack_without_the_output_warns_before_an_up_and_fails_a_stop(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    # Deployed before the output existed: only the next `up` exports it, so a start (the step
    # before a deployment's `up`) and `musicstore up` warn and go on; a stop or status cannot.
    site.outputs({"resourceGroupName": "rg-gdbc-dev"})
    assert agents.main(["stop", "-s", STACK]) == 1
    assert errors(capsys.readouterr().err)[0].startswith(f"error: {STACK} has no output {agents.OUTPUT}")
    assert agents.main(["start", "-s", STACK]) == 0
    assert capsys.readouterr().out.startswith(f"warning: {STACK} has no output {agents.OUTPUT}")
    assert cli.main(["up", "-s", STACK]) == 0
    assert journal_lines(site.journal)[-1] == f"pulumi up --stack {STACK}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["agents", "start", "-s", "nowhere"],
            'error: --stack = "nowhere": must be a stack with a Pulumi.<stack>.yaml',
        ),
        (["agents", "stop", "-s", STACK, "--team", "green"], 'error: --team = "green": must be one of red, blue'),
        (["agents", "start"], "error: musicstore agents start: the following arguments are required: -s/--stack"),
        (["agents", "restart", "-s", STACK], "error: musicstore agents: argument {status,start,stop}: invalid"),
        (["up", "--yes"], "error: musicstore up: the following arguments are required: -s/--stack"),
        (["up", "-s", "nowhere", "--yes"], 'error: --stack = "nowhere": must be a stack with a Pulumi.<stack>.yaml'),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    site: Site, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert exit_status(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(message), err
    assert not [line for line in journal_lines(site.journal) if line.startswith(("arm", "pulumi up"))]


def test_without_an_azure_login_nothing_is_touched(
    site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in [v for v in os.environ if v.startswith("ARM_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("PATH", str(site.bin))  # no `az` there
    assert cli.main(["up", "-s", STACK]) == 2
    [line] = errors(capsys.readouterr().err)
    assert line.startswith("error: no Azure login, as `pulumi up` would use (ARM_* variables or az login):")
    assert site.arm_calls() == [] and journal_lines(site.journal)[-1].startswith("pulumi stack output")


def test_power_state_is_the_powerstate_status() -> None:
    assert vm_power.power_state(["ProvisioningState/succeeded", "PowerState/deallocated"]) == "deallocated"
    assert vm_power.power_state(["ProvisioningState/updating", None]) == "unknown"


def test_an_agent_is_read_from_its_resource_id() -> None:
    vm = vm_power.agent("red", resource_id("vm-red-1", group="rg-x"))
    assert vm == vm_power.Agent("red", arm_compute.SUBSCRIPTION, "rg-x", "vm-red-1")
    with pytest.raises(ValueError, match="is not a virtual machine's resource id"):
        vm_power.agent("red", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/nic/x")


def test_the_stack_exports_its_agents_resource_ids_in_clear() -> None:
    rec = make_plan(STACK).recording
    [vm] = rec.of_type("azure-native:compute:VirtualMachine")
    exported = recording.mask(rec.stack_outputs)[agents.OUTPUT]
    assert exported == {"team1": [vm.state["id"]]}  # not "[secret]": read without the secrets provider


def test_up_starts_no_agent_of_a_stack_past_its_expiry(
    site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = next(s for s in stack_files.stacks() if s.startswith("venue-"))
    ends = load_stack(venue).expires_at
    assert ends is not None

    class AfterTheSession(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> AfterTheSession:
            return cls.fromtimestamp((ends + timedelta(hours=1)).timestamp(), tz)

    monkeypatch.setattr(agents, "datetime", AfterTheSession)
    assert agents.up(["-s", venue, "--yes"], login=StaticToken()) == 2
    assert journal_lines(site.journal) == []  # no output read, no VM started, no pulumi up
    err = capsys.readouterr().err
    assert f'config musicstore:expiresAt = "{ends:%Y-%m-%dT%H:%M:%SZ}": has passed' in err
    assert f"no agent of {venue} started" in err
