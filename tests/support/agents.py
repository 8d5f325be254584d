"""Reading build agents out of a recording, and the command their extension runs."""

from __future__ import annotations

import base64
import gzip
import json
import re

from components.agent_bootstrap import AgentSettings
from offline import recording

# A team's agent as the tests render it; the images are the ltsc2022 build stage's.
SETTINGS = AgentSettings(
    organization_url="https://dev.azure.com/gdbc",
    pool="gdbc-red",
    agent_name="vm-gdbc-dev-red-ag1",
    docker_version="27.3.1",
    agent_version="4.252.0",
    images=("mcr.microsoft.com/dotnet/framework/sdk:4.8.1-windowsservercore-ltsc2022",),
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
