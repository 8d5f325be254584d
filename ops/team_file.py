"""A stack file with one team more or less, edited as text so that its comments and every other
line stay as the organizer wrote them.

A stack names its teams either as `teamCount` with `teamPrefix` (team01 ... teamNN) or as a
`teams` list. One more team of a counted stack is the next number; any other addition, and
every removal, turns the count into the list it stood for, less or plus that team, so that no
other team's name (and so none of its resources) changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from infra import messages

KEYS = ("teamCount", "teamPrefix", "teams")


class TeamFileError(Exception):
    """The stack file cannot take the change; the message says why."""


@dataclass(frozen=True)
class Edit:
    text: str  # the new stack file
    teams: tuple[str, ...]  # the teams it names


def add(text: str, teams: tuple[str, ...], team: str | None, *, counted: str | None) -> Edit:
    """`counted`: the teamPrefix of a stack that counts its teams, else None."""
    if counted is not None:
        following = f"{counted}{len(teams) + 1:02d}"
        if team in (None, following):
            line = re.compile(rf"^(\s*{_key('teamCount')}:\s*)\S+(.*)$", re.MULTILINE)
            if len(line.findall(text)) != 1:
                raise TeamFileError("the stack file must set teamCount on one line of its own")
            return Edit(line.sub(rf"\g<1>{len(teams) + 1}\g<2>", text), (*teams, following))
    if team is None:
        raise TeamFileError("name the team to add: the stack lists its teams")
    if team in teams:
        raise TeamFileError(messages.problem("team", json.dumps(team), "is already one of the stack's teams"))
    return Edit(_listed(text, (*teams, team)), (*teams, team))


def remove(text: str, teams: tuple[str, ...], team: str) -> Edit:
    if team not in teams:
        raise TeamFileError(messages.problem("team", json.dumps(team), f"must be one of {', '.join(teams)}"))
    if len(teams) == 1:
        raise TeamFileError(f"{team} is the stack's only team: tear the stack down instead (musicstore teardown)")
    kept = tuple(t for t in teams if t != team)
    return Edit(_listed(text, kept), kept)


def _key(name: str) -> str:
    return rf"(?:musicstore:)?{name}"


def _listed(text: str, teams: tuple[str, ...]) -> str:
    """The text with its team keys replaced by a `teams` list, where the first of them stood."""
    lines = text.splitlines(keepends=True)
    start = re.compile(rf"^(\s+){_key('(?:' + '|'.join(KEYS) + ')')}:(.*)$")
    out: list[str] = []
    at: int | None = None
    indent = "  "
    i = 0
    while i < len(lines):
        found = start.match(lines[i].rstrip("\n"))
        if not found:
            out.append(lines[i])
            i += 1
            continue
        indent = found.group(1)
        at = len(out) if at is None else at
        i += 1
        # The value's own lines: a block list or mapping under the key, or a folded flow list.
        while i < len(lines) and (
            lines[i].startswith(indent + " ") or lines[i].startswith(indent + "-") or not lines[i].strip()
        ):
            if not lines[i].strip() and not _continues(lines, i, indent):
                break
            i += 1
    block = [f"{indent}musicstore:teams:\n", *(f'{indent}  - "{t}"\n' for t in teams)]
    if at is None:
        config = next((n for n, line in enumerate(out) if line.rstrip() == "config:"), None)
        if config is None:
            raise TeamFileError("the stack file has no `config:` mapping to list the teams in")
        at = config + 1
    return "".join([*out[:at], *block, *out[at:]])


def _continues(lines: list[str], i: int, indent: str) -> bool:
    """A blank line inside a value: the next non-blank line is still the value's."""
    rest = [line for line in lines[i:] if line.strip()]
    return bool(rest) and (rest[0].startswith(indent + " ") or rest[0].startswith(indent + "-"))
