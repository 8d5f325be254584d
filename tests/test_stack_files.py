"""Stack files read as the Pulumi CLI reads them: the same strings reach the program offline and
in `pulumi up`, and a value YAML changed on the way stops the plan naming the key.

The reference is the real CLI: its `pulumi config --json` of a file of awkward scalars."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra import stack_files
from infra.config import load_stack
from infra.stack_config import ConfigError

ROOT = stack_files.ROOT
# Plain scalars whose meaning differs between YAML 1.1 (PyYAML) and Go's yaml.v3 (the CLI).
AWKWARD = {
    "version": "1.30",
    "hour": "19:00",
    "clock": "12:30:45",
    "answer": "no",
    "agree": "yes",
    "upper": "True",
    "octal": "010",
    "leading": "08",
    "prefixed": "0o17",
    "hex": "0x1F",
    "binary": "0b101",
    "grouped": "1_000",
    "signed": "+5",
    "half": ".5",
    "whole": "1.0",
    "big": "1e21",
    "stamp": "2026-11-28T18:00:00Z",
    "offset": "2026-11-28T19:00:00+01:00",
    "fraction": "2026-11-28T18:00:00.5Z",
    "day": "2026-11-28",
    "spaced": "2026-11-28 18:00:00",
}


def project_with(tmp_path: Path, stack_text: str, *, stack: str = "venue-new") -> Path:
    for path in ROOT.glob("Pulumi*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(stack_text)
    return tmp_path


@pytest.mark.engine
def test_every_awkward_scalar_reaches_the_program_as_the_cli_passes_it(tmp_path: Path, engine_bin: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: yt\nruntime: python\n")
    lines = [f"  yt:{key}: {text}" for key, text in AWKWARD.items()]
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n" + "\n".join([*lines, "  yt:list: [a, 1.50, no, 010]"]) + "\n")
    env = {
        **os.environ,
        "PATH": f"{engine_bin}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_HOME": str(tmp_path / "home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path}",
        "PULUMI_CONFIG_PASSPHRASE": "test",
        "PULUMI_SKIP_UPDATE_CHECK": "1",
    }
    subprocess.run(["pulumi", "stack", "init", "dev"], cwd=tmp_path, env=env, check=True, capture_output=True)
    shown = subprocess.run(
        ["pulumi", "config", "--json", "--stack", "dev"], cwd=tmp_path, env=env, check=True, capture_output=True
    )
    cli = {key: entry["value"] for key, entry in json.loads(shown.stdout).items()}
    ours = stack_files.load("dev", tmp_path).values
    assert ours == cli
    assert cli["yt:version"] == "1.3" and cli["yt:hour"] == "19:00" and cli["yt:answer"] == "no"


def test_a_version_that_lost_its_trailing_zero_is_refused_naming_the_key(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.venue-ams.yaml").read_text() + "  musicstore:kubernetesVersion: 1.30\n"
    with pytest.raises(ConfigError) as raised:
        load_stack("venue-new", project_with(tmp_path, text))
    message = str(raised.value)
    assert message.startswith('config musicstore:kubernetesVersion = "1.30": YAML reads it unquoted as a number')
    assert "'1.3'" in message and "quote it in Pulumi.venue-new.yaml" in message and "\n" not in message


def test_an_unquoted_timestamp_is_refused_naming_the_key(tmp_path: Path) -> None:
    text = (
        (ROOT / "Pulumi.venue-ams.yaml")
        .read_text()
        .replace('musicstore:expiresAt: "2027-03-20T18:00:00Z"', "musicstore:expiresAt: 2027-03-20T18:00:00Z")
    )
    assert "expiresAt: 2027-03-20T18:00:00Z" in text
    with pytest.raises(ConfigError, match=r"expiresAt = .*unquoted as a timestamp.*'2027-03-20 18:00:00 \+0000 UTC'"):
        load_stack("venue-new", project_with(tmp_path, text))


def test_text_that_yaml_11_would_change_stays_text(tmp_path: Path) -> None:
    # A team named `no`: YAML 1.1 makes it false; the CLI passes "no". `1900` passes as written.
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    text = dev + "  musicstore:teams: [no]\n  musicstore:agentShutdownTime: 1900\n"
    cfg = load_stack("venue-new", project_with(tmp_path, text))
    assert cfg.teams == ("no",)
    assert stack_files.load("venue-new", tmp_path).values["musicstore:agentShutdownTime"] == "1900"
    # 19:00 stays the text 19:00 (YAML 1.1 would make it 1140), which the time rule then names.
    with pytest.raises(ConfigError, match='agentShutdownTime = "19:00": must be a 24-hour time HHmm'):
        load_stack("venue-new", project_with(tmp_path, text.replace("Time: 1900", "Time: 19:00")))


def test_a_value_the_cli_cannot_pass_is_a_stack_file_error(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  musicstore:agentCount: .inf\n"
    with pytest.raises(stack_files.StackFileError, match=r"Pulumi\.venue-new\.yaml: \.inf"):
        stack_files.load("venue-new", project_with(tmp_path, text))
