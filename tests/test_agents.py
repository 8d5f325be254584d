"""Windows build agents: the VMs, their bootstrap, their shutdown and their network guard."""

from __future__ import annotations

import base64
import gzip
import ipaddress
import json
import re
from dataclasses import replace

import pytest

from components import agent_bootstrap
from components.agent_bootstrap import AgentSettings
from components.naming import computer_name
from components.windows import AGENT_IMAGE_SKU, WINDOWS_VERSION_FOR_OS_SKU
from infra import stack_files
from offline import recording
from offline.plan import Plan, make_plan
from policy.rules import admits_remote_admin
from tests.conftest import stack_config

PAT_PLACEHOLDER = stack_files.PLACEHOLDER.format(key="musicstore:azdoPat")
SETTINGS = AgentSettings(
    organization_url="https://dev.azure.com/gdbc",
    pool="gdbc-red",
    agent_name="vm-gdbc-dev-red-ag1",
    docker_version="27.3.1",
    agent_version="4.252.0",
    images=("mcr.microsoft.com/dotnet/framework/sdk:4.8-windowsservercore-ltsc2022",),
)


def decode_command(command: str) -> tuple[str, dict[str, object]]:
    """The script and the settings a rendered commandToExecute will run with."""
    packed = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", command)
    payload = re.search(r"-SettingsBase64 '([A-Za-z0-9+/=]+)'", command)
    assert packed and payload
    script = gzip.decompress(base64.b64decode(packed.group(1))).decode("ascii")
    return script, json.loads(base64.b64decode(payload.group(1)))


def agents_of(rec: recording.Recording) -> dict[str, dict[str, recording.Registration]]:
    """Each BuildAgentVm's children by type."""
    result: dict[str, dict[str, recording.Registration]] = {}
    for vm in rec.of_type("musicstore:azure:BuildAgentVm"):
        result[vm.name] = {r.type.split(":")[-1]: r for r in rec.resources.values() if r.parent == vm.urn}
    return result


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


def test_extension_keeps_the_pat_in_protected_settings_only(stack_runs: dict[str, recording.Recording]) -> None:
    agents = agents_of(stack_runs["dev"])
    assert agents, "dev has build agents to check"
    for children in agents.values():
        ext = children["VirtualMachineExtension"]
        assert (ext.plain("publisher"), ext.plain("type"), ext.plain("typeHandlerVersion")) == (
            "Microsoft.Compute",
            "CustomScriptExtension",
            "1.10",
        )
        assert set(ext.plain("settings")) == {"timestamp"}
        assert ext.masked_inputs()["protectedSettings"] == recording.SECRET_MARKER
        assert not any(PAT_PLACEHOLDER in s or "pat" in s.lower() for s in recording.clear_strings(ext.inputs))
        script, settings = decode_command(ext.plain("protectedSettings.commandToExecute"))
        assert settings["pat"] == PAT_PLACEHOLDER
        assert script == agent_bootstrap.script_text()


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


def test_script_is_plain_ascii_and_never_puts_the_token_on_a_command_line() -> None:
    raw = agent_bootstrap.SCRIPT.read_bytes()
    assert raw.decode("ascii") and b"\r" not in raw
    script = raw.decode()
    assert "--token" not in script
    assert "$env:VSTS_AGENT_INPUT_TOKEN = $settings.pat" in script
    assert "Remove-Item Env:\\VSTS_AGENT_INPUT_TOKEN" in script
    assert "Restart-Computer" not in script and "shutdown.exe /r /t 120" in script
    assert "https://download.agent.dev.azure.com/agent/" in script and "azureedge" not in script


def test_rendered_command_runs_the_script_with_its_settings() -> None:
    script = agent_bootstrap.script_text()
    command = agent_bootstrap.command(script, SETTINGS, "pat-value")
    assert command.startswith("powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command ")
    assert len(command) <= agent_bootstrap.COMMAND_LIMIT
    assert "pat-value" not in command  # inside the base64 payload, not a readable argument
    decoded_script, settings = decode_command(command)
    assert decoded_script == script
    assert settings == {**SETTINGS.for_script("pat-value")}


def test_editing_the_script_changes_the_extension_inputs() -> None:
    script = agent_bootstrap.script_text()
    edited = script.replace("bootstrap done", "bootstrap finished")
    assert agent_bootstrap.public_settings(script, SETTINGS) != agent_bootstrap.public_settings(edited, SETTINGS)
    assert agent_bootstrap.command(script, SETTINGS, "p") != agent_bootstrap.command(edited, SETTINGS, "p")
    assert edited != script  # the edit took effect
    # Settings alone change them too: a new pool or organization re-runs the extension.
    moved = replace(SETTINGS, pool=SETTINGS.pool + "-new")
    assert agent_bootstrap.public_settings(script, moved) != agent_bootstrap.public_settings(script, SETTINGS)


def test_computer_names_fit_15_characters_and_stay_distinct() -> None:
    assert computer_name("team1", 1) == "team1-ag1"
    long_a, long_b = computer_name("teamalpha001", 10), computer_name("teamalpha002", 10)
    assert len(long_a) <= 15 and len(long_b) <= 15 and long_a != long_b
