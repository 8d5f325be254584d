"""Windows build agents: the VMs, their bootstrap and the tools it installs, their shutdown and
their network guard. The PAT's way to the agents: test_agent_pat.py."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import agent_bootstrap
from components.naming import computer_name
from components.windows import AGENT_IMAGE_SKU, WINDOWS_VERSION_FOR_OS_SKU
from infra import stack_files
from offline import recording
from offline.plan import Plan, make_plan
from policy.rules import admits_remote_admin
from tests.conftest import stack_config
from tests.support import pipeline_tools
from tests.support.agents import SETTINGS, agents_of

PIPELINE = stack_files.ROOT / "azure-pipelines.yml"


def test_dev_has_the_agents_its_config_asks_for(stack_runs: dict[str, recording.Recording]) -> None:
    cfg = stack_config("dev")
    assert cfg.agents.count >= 1
    assert len(agents_of(stack_runs["dev"])) == cfg.agents.count * len(cfg.teams)


def test_prod_builds_no_agents(stack_runs: dict[str, recording.Recording]) -> None:
    assert stack_config("prod").agents.count == 0
    assert agents_of(stack_runs["prod"]) == {}


def test_each_agent_matches_the_pool_os_and_has_a_short_computer_name(
    stack_runs: dict[str, recording.Recording],
) -> None:
    rec, cfg = stack_runs["dev"], stack_config("dev")
    pool_versions = {WINDOWS_VERSION_FOR_OS_SKU[p.os_sku] for p in cfg.windows_pools}
    agents = agents_of(rec)
    assert agents, "the stack has build agents to check"
    for children in agents.values():
        vm = children["VirtualMachine"]
        image = vm.plain("storageProfile.imageReference")
        assert (image["publisher"], image["offer"]) == ("MicrosoftWindowsServer", "WindowsServer")
        assert image["sku"] in {AGENT_IMAGE_SKU[v] for v in pool_versions}
        assert image["sku"] == AGENT_IMAGE_SKU[cfg.app.windows_version]
        assert len(vm.plain("osProfile.computerName")) <= 15
        assert vm.masked_inputs()["osProfile"]["adminPassword"] == recording.SECRET_MARKER
        assert vm.plain("storageProfile.osDisk.diskSizeGB") == cfg.agents.os_disk_size_gb
        assert "PublicIPAddress" not in children  # no remote desktop ranges configured


def test_agents_shut_down_daily_under_the_required_name(stack_runs: dict[str, recording.Recording]) -> None:
    cfg = stack_config("dev")
    agents = agents_of(stack_runs["dev"])
    assert agents, "dev has build agents to check"
    for children in agents.values():
        vm, schedule = children["VirtualMachine"], children["GlobalSchedule"]
        assert schedule.plain("name") == f"shutdown-computevm-{vm.plain('vmName')}"
        assert schedule.plain("taskType") == "ComputeVmShutdownTask"
        assert schedule.plain("dailyRecurrence.time") == cfg.agents.shutdown_time
        assert schedule.plain("timeZoneId") == cfg.agents.shutdown_time_zone
        assert schedule.plain("targetResourceId") == vm.state["id"]


def test_agent_outputs_name_address_and_secret_password(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["dev"]
    [agent] = rec.outputs()["teams"]["team1"]["agents"]
    assert agent["vmName"].startswith("vm-") and ipaddress.ip_address(agent["privateIp"])
    assert recording.mask(rec.stack_outputs)["teams"]["team1"]["agents"][0]["adminPassword"] == recording.SECRET_MARKER


def rules_of(rec: recording.Recording) -> list[dict[str, object]]:
    found = []
    for nsg in rec.of_type("azure-native:network:NetworkSecurityGroup"):
        found += nsg.plain("securityRules") or []
    found += [r.inputs for r in rec.of_type("azure-native:network:SecurityRule")]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_rule_admits_remote_admin_in_the_real_stacks(stack: str, stack_runs: dict[str, recording.Recording]) -> None:
    assert [r for r in rules_of(stack_runs[stack]) if admits_remote_admin(r, allowed=())] == []


def test_remote_desktop_opens_to_the_configured_ranges_only() -> None:
    ranges = ["203.0.113.0/24", "198.51.100.7/32"]
    plan: Plan = make_plan("dev", overrides={"agentRdpSourceRanges": json.dumps(ranges)})
    rules = rules_of(plan.recording)
    assert [r["name"] for r in rules if admits_remote_admin(r, allowed=())] == ["allow-rdp-from-configured-ranges"]
    assert [r for r in rules if admits_remote_admin(r, allowed=tuple(ranges))] == []
    assert len(plan.recording.of_type("azure-native:network:PublicIPAddress")) == 2  # NAT and the one agent


def test_the_rule_check_catches_an_open_port() -> None:
    wide = {
        "access": "Allow",
        "direction": "Inbound",
        "sourceAddressPrefix": "Internet",
        "destinationPortRange": "5985",
    }
    ranged = {**wide, "sourceAddressPrefix": "10.0.0.0/8", "destinationPortRange": "20-30"}
    assert admits_remote_admin(wide, allowed=())
    assert admits_remote_admin(ranged, allowed=("10.0.0.0/16",))
    assert not admits_remote_admin({**wide, "access": "Deny"}, allowed=())


def test_script_is_plain_ascii_and_reboots_only_by_schedule() -> None:
    raw = agent_bootstrap.SCRIPT.read_bytes()
    assert raw.decode("ascii") and b"\r" not in raw
    script = raw.decode()
    assert "Restart-Computer" not in script and "shutdown.exe /r /t 120" in script
    assert "https://download.agent.dev.azure.com/agent/" in script and "azureedge" not in script


def test_computer_names_fit_15_characters_and_stay_distinct() -> None:
    assert computer_name("team1", 1) == "team1-ag1"
    long_a, long_b = computer_name("teamalpha001", 10), computer_name("teamalpha002", 10)
    assert len(long_a) <= 15 and len(long_b) <= 15 and long_a != long_b


# --- the tools the pipeline runs on the agent ---------------------------------------------


def pipeline() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    return loaded


def steps_of(doc: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    [steps] = [steps for job, steps in pipeline_tools.agent_jobs(doc) if job.startswith(f"{stage}.")]
    return steps


def test_every_tool_a_step_runs_on_the_agent_is_installed_by_the_bootstrap() -> None:
    missing = pipeline_tools.missing(pipeline(), agent_bootstrap.script_text())
    assert [need.line() for need in missing] == []


def test_the_tools_are_read_from_the_tasks_and_the_inline_scripts() -> None:
    needed = {(need.job, need.tool) for need in pipeline_tools.needs(pipeline())}
    assert needed >= {("Build.image", "docker"), ("Build.image", "python")}
    assert needed >= {("Release.prod", "az"), ("Release.prod", "python"), ("Release.prod", "pulumi")}
    assert pipeline_tools.commands("$x = (& python @a).Trim(); if ($y) { throw 'az failed' }") == {"python"}


def test_a_tool_whose_install_is_deleted_from_the_script_is_reported(tmp_path: Path) -> None:
    script = agent_bootstrap.script_text()
    start, end = script.index("# 5. The Pulumi CLI"), script.index("# 6. ")
    copy = tmp_path / "agent-bootstrap.ps1"
    copy.write_text(script[:start] + script[end:], encoding="ascii")
    missing = pipeline_tools.missing(pipeline(), agent_bootstrap.script_text(copy))
    assert {(need.tool, need.job) for need in missing} == {("pulumi", "Release.prod")}


def test_git_comes_from_the_agent_only_after_a_checkout() -> None:
    doc = pipeline()
    steps = steps_of(doc, "Release")
    steps[:] = [step for step in steps if "checkout" not in step]
    missing = pipeline_tools.missing(doc, agent_bootstrap.script_text())
    assert [(need.tool, need.job) for need in missing] == [("git", "Release.prod")]


def test_a_task_whose_tools_are_not_known_is_refused() -> None:
    doc = pipeline()
    steps_of(doc, "Build").append({"task": "Kubernetes@1", "inputs": {"command": "apply"}})
    with pytest.raises(pipeline_tools.UnknownStepError, match="Kubernetes@1"):
        pipeline_tools.missing(doc, agent_bootstrap.script_text())


def test_the_agent_runs_the_pulumi_cli_the_project_pins() -> None:
    go_mod = (stack_files.ROOT / "tools" / "pulumi" / "go.mod").read_text(encoding="utf-8")
    pinned = re.search(r"github.com/pulumi/pulumi/sdk/v3 v(\S+)", go_mod)
    assert pinned and SETTINGS.pulumi_version == pinned.group(1)
