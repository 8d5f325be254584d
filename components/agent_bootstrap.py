"""What the Custom Script Extension of a build agent receives, rendered from the script.

Pure functions: the tests check the rendered command against the script file. The whole
command, which carries the PAT, goes in `protectedSettings` (encrypted by Azure, never
returned); `settings` carries only a `timestamp` hashed from the script and the non-secret
settings, so an edited script reruns the extension and shows in the diff.
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


@dataclass(frozen=True)
class AgentSettings:
    organization_url: str
    pool: str
    agent_name: str
    docker_version: str
    agent_version: str
    images: tuple[str, ...]
    python_version: str = "3.12.8"

    def for_script(self, pat: str) -> dict[str, object]:
        return {
            "organizationUrl": self.organization_url,
            "pool": self.pool,
            "agentName": self.agent_name,
            "dockerVersion": self.docker_version,
            "agentVersion": self.agent_version,
            "pythonVersion": self.python_version,
            "images": list(self.images),
            "pat": pat,
        }


def script_text(path: Path = SCRIPT) -> str:
    return path.read_text(encoding="ascii")


def public_settings(script: str, settings: AgentSettings) -> dict[str, int]:
    digest = hashlib.sha256((script + json.dumps(asdict(settings), sort_keys=True)).encode()).hexdigest()
    return {"timestamp": int(digest[:8], 16) % 2**31}


def command(script: str, settings: AgentSettings, pat: str) -> str:
    """commandToExecute: unpack the gzipped script to disk and run it with the settings."""
    packed = base64.b64encode(gzip.compress(script.encode("ascii"), mtime=0)).decode()
    payload = base64.b64encode(json.dumps(settings.for_script(pat), sort_keys=True).encode()).decode()
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
