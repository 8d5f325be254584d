"""What the Custom Script Extension of a build agent receives, rendered from the script.

Pure functions: the tests check the rendered command against the script file. Nothing here
ever sees the PAT. The command carries the script and its non-secret settings, among them the
Key Vault and secret the script reads the PAT from with the VM's managed identity (see
components/pat_vault.py); it still goes in `protectedSettings`, which the policy pack keeps for
everything but `timestamp`. `settings` carries only a `timestamp` hashed from the script, the
settings and the URI of the PAT secret's current version, so an edited script, a new pool or a
new PAT reruns the extension and shows in the diff, while no form of the PAT does.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "scripts" / "agent-bootstrap.ps1"
INSTALL_PATH = r"C:\gdbc\agent-bootstrap.ps1"
# cmd.exe, which the extension runs commandToExecute through, takes at most 8191 characters.
COMMAND_LIMIT = 8191
# The Pulumi CLI the release stage runs on the agent: the release the project builds and tests
# with (tools/pulumi/go.mod). The Azure CLI: its documented current release (azure-docs-cli,
# includes/current-version.md), served as a versioned 64-bit MSI.
PULUMI_VERSION = "3.274.1"
AZURE_CLI_VERSION = "2.81.0"


@dataclass(frozen=True)
class AgentSettings:
    organization_url: str
    pool: str
    agent_name: str
    docker_version: str
    agent_version: str
    images: tuple[str, ...]
    python_version: str = "3.12.8"
    azure_cli_version: str = AZURE_CLI_VERSION
    pulumi_version: str = PULUMI_VERSION

    def registration(self) -> dict[str, str]:
        """What the agent is registered as: a change to any of these re-registers it."""
        return {"organizationUrl": self.organization_url, "pool": self.pool, "agentName": self.agent_name}

    def registration_hash(self) -> str:
        """The non-secret half of the fingerprint the script keeps beside the agent; the
        script adds a hash of the PAT, which only the VM ever holds."""
        return hashlib.sha256(json.dumps(self.registration(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PatLocation:
    vault_name: str
    secret_name: str


def for_script(settings: AgentSettings, pat: PatLocation) -> dict[str, object]:
    return {
        **settings.registration(),
        "registrationHash": settings.registration_hash(),
        "vaultName": pat.vault_name,
        "secretName": pat.secret_name,
        "dockerVersion": settings.docker_version,
        "agentVersion": settings.agent_version,
        "pythonVersion": settings.python_version,
        "azureCliVersion": settings.azure_cli_version,
        "pulumiVersion": settings.pulumi_version,
        "images": list(settings.images),
    }


def script_text(path: Path = SCRIPT) -> str:
    return path.read_text(encoding="ascii")


def public_settings(script: str, settings: AgentSettings, pat_version: str) -> dict[str, int]:
    """`pat_version`: the URI of the PAT secret's current version (vault, name and version)."""
    text = script + json.dumps(asdict(settings), sort_keys=True) + pat_version
    return {"timestamp": int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 2**31}


def command(script: str, settings: AgentSettings, pat: PatLocation) -> str:
    """commandToExecute: unpack the gzipped script to disk and run it with the settings."""
    packed = base64.b64encode(gzip.compress(script.encode("ascii"), mtime=0)).decode()
    payload = base64.b64encode(json.dumps(for_script(settings, pat), sort_keys=True).encode()).decode()
    loader = (
        "$ErrorActionPreference='Stop';"
        f"$b=[Convert]::FromBase64String('{packed}');"
        "$z=New-Object IO.Compression.GZipStream((New-Object IO.MemoryStream(,$b)),"
        "[IO.Compression.CompressionMode]::Decompress);"
        "$s=(New-Object IO.StreamReader($z)).ReadToEnd();"
        "New-Item -ItemType Directory -Force C:\\gdbc | Out-Null;"
        f"Set-Content -Path {INSTALL_PATH} -Value $s -Encoding ASCII;"
        f"& {INSTALL_PATH} -SettingsBase64 '{payload}'"
    )
    rendered = f'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "{loader}"'
    if len(rendered) > COMMAND_LIMIT:
        raise ValueError(f"the bootstrap command is {len(rendered)} characters; cmd.exe takes {COMMAND_LIMIT}")
    return rendered
