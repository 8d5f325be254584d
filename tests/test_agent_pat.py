"""The agents' PAT: from a Pulumi secret into Key Vault, to each agent VM through its own
identity's grant, into config.cmd through the environment; never on a command line or in the
extension's inputs. And the agent registered again exactly when the registration or the PAT
changes."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace

import pytest

from components import agent_bootstrap
from components.agent_bootstrap import PatLocation
from components.naming import KEY_VAULT_NAME, KEY_VAULT_SECRETS_USER_ROLE
from components.pat_vault import SECRET_NAME, SOFT_DELETE_DAYS
from infra import stack_files
from offline import recording
from tests.support.agents import SETTINGS, agents_of, decode_command

PAT_PLACEHOLDER = stack_files.PLACEHOLDER.format(key="musicstore:azdoPat")
LOCATION = PatLocation("kv-gdbc-dev-abc123", SECRET_NAME)
VERSION = f"https://{LOCATION.vault_name}.vault.azure.net/secrets/{SECRET_NAME}/0123456789abcdef"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"


def test_the_vault_authorizes_by_rbac_and_holds_the_pat_as_a_secret(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["dev"]
    vault, secret = rec.one(VAULT), rec.one(SECRET)
    assert KEY_VAULT_NAME.fullmatch(vault.plain("vaultName"))
    assert vault.plain("properties.enableRbacAuthorization") is True
    assert not vault.plain("properties.accessPolicies")
    assert vault.plain("properties.softDeleteRetentionInDays") == SOFT_DELETE_DAYS
    assert vault.plain("properties.enablePurgeProtection") is None  # irreversible once true
    assert (secret.plain("vaultName"), secret.plain("secretName")) == (vault.plain("vaultName"), SECRET_NAME)
    assert secret.plain("properties.value") == PAT_PLACEHOLDER
    assert recording.SECRET_MARKER in json.dumps(secret.masked_inputs()["properties"])


def test_prod_without_agents_has_no_vault(stack_runs: dict[str, recording.Recording]) -> None:
    assert stack_runs["prod"].of_type(VAULT) == []


def test_each_agent_reads_the_pat_with_its_own_identity_once_granted(
    stack_runs: dict[str, recording.Recording],
) -> None:
    rec = stack_runs["dev"]
    secret = rec.one(SECRET)
    agents = agents_of(rec)
    assert agents, "dev has build agents to check"
    for children in agents.values():
        vm, grant, ext = children["VirtualMachine"], children["RoleAssignment"], children["VirtualMachineExtension"]
        assert vm.plain("identity.type") == "SystemAssigned"
        assert grant.plain("principalId") == vm.state["identity"]["principalId"]
        assert grant.plain("principalType") == "ServicePrincipal"
        assert grant.plain("scope") == secret.state["id"]  # this one secret, not the vault
        assert grant.plain("roleDefinitionId").endswith(f"/roleDefinitions/{KEY_VAULT_SECRETS_USER_ROLE}")
        assert grant.urn in ext.dependencies  # the script reads the PAT as soon as it runs


def test_the_extension_carries_no_form_of_the_pat(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["dev"]
    vault = rec.one(VAULT)
    encoded = base64.b64encode(PAT_PLACEHOLDER.encode()).decode()[:24]
    for children in agents_of(rec).values():
        ext = children["VirtualMachineExtension"]
        assert (ext.plain("publisher"), ext.plain("type"), ext.plain("typeHandlerVersion")) == (
            "Microsoft.Compute",
            "CustomScriptExtension",
            "1.10",
        )
        assert set(ext.plain("settings")) == {"timestamp"}
        # Nothing in the command is secret, so it travels unwrapped, where the leak scans see it.
        command = ext.masked_inputs()["protectedSettings"]["commandToExecute"]
        assert PAT_PLACEHOLDER not in command and encoded not in command
        script, settings = decode_command(command)
        assert script == agent_bootstrap.script_text()
        assert PAT_PLACEHOLDER not in json.dumps(settings) and not any("pat" in key.lower() for key in settings)
        assert (settings["vaultName"], settings["secretName"]) == (vault.plain("vaultName"), SECRET_NAME)


def test_the_rendered_command_runs_the_script_with_its_settings() -> None:
    script = agent_bootstrap.script_text()
    command = agent_bootstrap.command(script, SETTINGS, LOCATION)
    assert command.startswith("powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command ")
    assert len(command) <= agent_bootstrap.COMMAND_LIMIT
    decoded_script, settings = decode_command(command)
    assert decoded_script == script
    assert settings == agent_bootstrap.for_script(SETTINGS, LOCATION)


def test_the_script_reads_the_pat_from_key_vault_through_imds() -> None:
    script = agent_bootstrap.script_text()
    assert "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01" in script
    assert "resource=https%3A%2F%2Fvault.azure.net" in script and "Metadata = 'true'" in script
    assert '"https://$Vault.vault.azure.net/secrets/$($Name)?api-version=7.4"' in script
    assert "$pat = Get-Pat $settings.vaultName $settings.secretName" in script
    # A PowerShell function returns all it writes: its progress lines go to the host instead.
    body = script[script.index("function Get-Pat") : script.index("function Invoke-AgentConfig")]
    progress = [line for line in body.splitlines() if "Write-Step" in line]
    assert progress and all(line.endswith("| Out-Host") for line in progress)


def test_config_gets_the_token_from_the_environment_only() -> None:
    script = agent_bootstrap.script_text()
    assert "--token" not in script
    # config.cmd runs in one place, Invoke-AgentConfig, which sets the variable and removes it.
    assert len(re.findall(r"&\s*\"[^\"]*config\.cmd\"", script)) == 1
    helper = script[script.index("function Invoke-AgentConfig") : script.index("$json = ")]
    assert '& "$agentDir\\config.cmd" @Arguments' in helper
    assert helper.index("$env:VSTS_AGENT_INPUT_TOKEN = $Pat") < helper.index("finally")
    assert helper.index("finally") < helper.index("Remove-Item Env:\\VSTS_AGENT_INPUT_TOKEN")
    # What goes to disk is the fingerprint, never the PAT.
    assert not re.search(r"(Set|Add)-Content[^\n]*\$pat\b", script, re.IGNORECASE)


# --- registering again -------------------------------------------------------------------


@pytest.mark.parametrize(
    "change", [{"pool": "gdbc-blue"}, {"organization_url": "https://dev.azure.com/other"}, {"agent_name": "vm-x"}]
)
def test_a_changed_registration_changes_the_fingerprint(change: dict[str, str]) -> None:
    assert replace(SETTINGS, **change).registration_hash() != SETTINGS.registration_hash()


def test_other_settings_keep_the_registration() -> None:
    upgraded = replace(SETTINGS, docker_version="28.0.1", pulumi_version="3.300.0", images=())
    assert upgraded.registration_hash() == SETTINGS.registration_hash()


def test_the_script_registers_again_only_when_its_fingerprint_changes() -> None:
    script = agent_bootstrap.script_text()
    section = script[script.index("# 8. The registration") : script.index("# 9. ")]
    assert '$fingerprint = "$($settings.registrationHash):$(Get-Sha256 $pat)"' in section
    assert "$reconfigured = -not $configured -or $previous -ne $fingerprint" in section
    steps = [
        "if ($reconfigured) {",
        "if ($configured) {",
        "Invoke-AgentConfig @('remove', '--unattended', '--auth', 'pat') $pat",  # the old registration
        "'--replace', '--acceptTeeEula') $pat",
        "Set-Content -Path $fingerprintFile -Value $fingerprint",
        "} else {\n    Write-Step 'agent registration unchanged'",
    ]
    positions = [section.index(step) for step in steps]
    assert positions == sorted(positions)


def test_the_extension_reruns_for_a_new_pat_script_or_pool_and_only_then() -> None:
    script = agent_bootstrap.script_text()
    same = agent_bootstrap.public_settings(script, SETTINGS, VERSION)
    assert agent_bootstrap.public_settings(script, SETTINGS, VERSION) == same
    assert agent_bootstrap.public_settings(script, SETTINGS, VERSION.replace("0123", "4567")) != same
    assert agent_bootstrap.public_settings(script.replace("done", "finished"), SETTINGS, VERSION) != same
    assert agent_bootstrap.public_settings(script, replace(SETTINGS, pool="gdbc-new"), VERSION) != same


def test_a_new_pat_changes_the_timestamp_and_nothing_else_the_extension_sends(
    stack_runs: dict[str, recording.Recording],
) -> None:
    again = recording.run("dev", secret_overrides={"azdoPat": "another-pat-value"})
    before, after = (agents_of(rec)["team1-agent1"]["VirtualMachineExtension"] for rec in (stack_runs["dev"], again))
    assert before.plain("settings") != after.plain("settings")
    assert before.plain("protectedSettings") == after.plain("protectedSettings")
    assert "another-pat-value" not in json.dumps(after.plain_inputs())
