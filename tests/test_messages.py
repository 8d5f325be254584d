"""Errors stay one line whatever a key or a value holds."""

from __future__ import annotations

import json

import pytest

from infra import messages
from infra.dated_facts import READ_ON
from offline import recording
from ops import cli

AWKWARD = ["\n", "\r", "\t", "\x00", "\u2028"]


@pytest.mark.parametrize("char", AWKWARD, ids=["newline", "return", "tab", "nul", "line-separator"])
def test_a_key_with_a_control_character_gives_one_line_and_registers_nothing(
    char: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[str] = []
    original = recording.RecordingMonitor.RegisterResource
    monkeypatch.setattr(
        recording.RecordingMonitor,
        "RegisterResource",
        lambda self, req: registered.append(req.name) or original(self, req),
    )
    # As the shell passes `--set 'windowsPools={"\n":null}'`: JSON whose key decodes to the character.
    status = cli.plan(["dev", "--date", READ_ON.isoformat(), "--set", f"windowsPools={json.dumps({char: None})}"])
    out, err = capsys.readouterr()
    assert (status, out, registered) == (2, "", [])
    assert len(err.splitlines()) == 1 and err.endswith("\n")
    escaped = char.encode("unicode_escape").decode()
    assert err.startswith(f"error: config musicstore:windowsPools.{escaped} = ")


@pytest.mark.parametrize("char", AWKWARD, ids=["newline", "return", "tab", "nul", "line-separator"])
def test_a_value_with_a_control_character_stays_on_one_line(char: str) -> None:
    line = messages.problem(f"key{char}", f"va{char}lue", f"rule{char}")
    assert line.splitlines() == [line]
    assert char not in line


def test_a_long_value_is_shortened_and_says_so() -> None:
    line = messages.problem("appImageTag", "x" * 300, "a rule")
    assert "… (shortened from 300 characters)" in line
    assert len(line) < 200


def test_any_error_a_command_prints_is_one_line() -> None:
    line = messages.error_line(RuntimeError("first\nsecond\u2029third"))
    assert line == "error: first\\nsecond\\u2029third"
