"""The status board's faces: the same cells as a rich table on the terminal, a JSON document, a
self-contained HTML page for a projector and a Markdown table; written atomically, as a browser
reloading the page mid-write must never show half a board."""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ops.status_devops import Disk
from ops.status_probes import QUEUED, TeamStatus

COLUMNS = ("team", "agent", "agent disk", "last run", "image (tag, digest)", "app (code, ms)", "VM", "verdict")
DISK_WARNING = 80  # percent used of an agent's disk past which the board warns
VERDICTS = ("ready", "building", "stuck")
STYLES = {"ready": "bold green", "building": "bold yellow", "stuck": "bold red"}
DIGEST_HEX = 12  # sha256:abcdef123456, as docker shows image ids
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|<>&])")


@dataclass(frozen=True)
class Board:
    stack: str
    organization: str
    checked_at: datetime  # UTC, when the round began
    seconds: float  # how long the probes took
    teams: tuple[TeamStatus, ...]
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, int]:
        counts = Counter(team.verdict for team in self.teams)
        return {"teams": len(self.teams), **{verdict: counts[verdict] for verdict in VERDICTS}}

    def summary_line(self) -> str:
        s = self.summary()
        return f"{s['teams']} teams: {s['ready']} ready, {s['building']} building, {s['stuck']} stuck"

    def when(self) -> str:
        return f"checked {rfc3339(self.checked_at)} in {self.seconds:.1f} s"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cells(team: TeamStatus, now: datetime) -> tuple[str, ...]:
    """The row of `team`, one text per column of COLUMNS."""
    return (
        team.team,
        _agent(team),
        _disk(team),
        _run(team, now),
        _image(team),
        _app(team),
        _vms(team),
        _verdict(team),
    )


def _agent(team: TeamStatus) -> str:
    a = team.agents
    return a.error if a.error is not None else f"{a.online}/{a.total} online"


def full_disks(team: TeamStatus) -> list[Disk]:
    return [d for d in team.run.disks if d.used_percent > DISK_WARNING]


def _disk(team: TeamStatus) -> str:
    """The disk use its pipeline's last builds recorded (azure-pipelines.yml's clean-up step)."""
    r = team.run
    if r.error is not None:
        return "unknown"
    if r.source != "pipeline":
        return "unknown: no pipeline project"
    if not r.disks:
        return "not reported yet"
    shown = [f"{d.used_percent}%" if len(r.disks) == 1 else f"{d.agent} {d.used_percent}%" for d in r.disks]
    return ", ".join(shown) + (f" (above {DISK_WARNING}%)" if full_disks(team) else "")


def disk_note(teams: tuple[TeamStatus, ...]) -> str | None:
    """One line naming every agent whose disk is past DISK_WARNING, or None."""
    full = [(t.team, full_disks(t)) for t in teams]
    named = [f"{team} ({', '.join(f'{d.agent} {d.used_percent}%' for d in disks)})" for team, disks in full if disks]
    if not named:
        return None
    where = "`docker system df` on the agent shows what holds it"
    return f"agent disk above {DISK_WARNING}% used: {'; '.join(named)} ({where})"


def _run(team: TeamStatus, now: datetime) -> str:
    r = team.run
    if r.error is not None:
        return r.error
    if r.status is None:
        return "no run yet"
    name = f"{r.number} " if r.number else ""
    if r.status != "completed":
        return f"{name}{QUEUED.get(r.status, r.status)}"
    return f"{name}{r.result or 'done'}{_ago(r.finished, now)}"


def _ago(finished: str | None, now: datetime) -> str:
    try:
        moment = datetime.fromisoformat(finished or "")
    except ValueError:
        return f", {finished}" if finished else ""
    minutes = int((now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))).total_seconds() // 60)
    if minutes < 1:
        return ", just now"
    if minutes < 120:
        return f", {minutes} min ago"
    return f", {minutes // 60} h ago" if minutes < 48 * 60 else f", {minutes // (24 * 60)} d ago"


def short_digest(digest: str | None) -> str:
    algorithm, _, hexdigits = (digest or "").partition(":")
    return f"{algorithm}:{hexdigits[:DIGEST_HEX]}" if hexdigits else (digest or "")


def _image(team: TeamStatus) -> str:
    i = team.image
    if i.error is not None:
        return i.error
    if i.tag is None:
        return "no image yet"
    same = f" ({', '.join(i.tags)})" if i.tags else ""
    return f"{i.tag}{same} {short_digest(i.digest)}".strip()


def _app(team: TeamStatus) -> str:
    a = team.app
    return a.error if a.error is not None else f"{a.status} in {a.ms} ms"


def _vms(team: TeamStatus) -> str:
    powers = [vm.power for vm in team.vms]
    if not powers:
        return "no agent VM"
    if len(set(powers)) == 1:
        return powers[0] if len(powers) == 1 else f"{len(powers)} {powers[0]}"
    return ", ".join(f"{vm.name}: {vm.power}" for vm in team.vms)


def _verdict(team: TeamStatus) -> str:
    return f"{team.verdict}: {team.reason}" if team.verdict != "ready" else team.verdict


def document(board: Board) -> dict[str, Any]:
    """The board as JSON: what the probes found, never a password or the PAT (no probe keeps one)."""
    return {
        "stack": board.stack,
        "organization": board.organization,
        "checkedAt": rfc3339(board.checked_at),
        "seconds": round(board.seconds, 3),
        "summary": board.summary(),
        "notes": list(board.notes),
        "teams": [
            {
                "team": t.team,
                "agent": {"online": t.agents.online, "total": t.agents.total, "error": t.agents.error},
                "disks": [{"agent": d.agent, "usedPercent": d.used_percent, "build": d.build} for d in t.run.disks],
                "run": {
                    "source": t.run.source,
                    "status": t.run.status,
                    "result": t.run.result,
                    "number": t.run.number,
                    "finishTime": t.run.finished,
                    "error": t.run.error,
                },
                "image": {
                    "tag": t.image.tag,
                    "tags": list(t.image.tags),
                    "digest": t.image.digest,
                    "error": t.image.error,
                },
                "app": {"url": t.app.url, "status": t.app.status, "ms": t.app.ms, "error": t.app.error},
                "vms": [{"name": vm.name, "power": vm.power} for vm in t.vms],
                "verdict": t.verdict,
                "reason": t.reason,
            }
            for t in board.teams
        ],
    }


def table(board: Board) -> RenderableType:
    """The rich table, its summary and notes. Every value is a Text: a server's answer holding
    `[bold]` stays text, never markup."""
    grid = Table(title=f"musicstore status: {board.stack}", title_justify="left")
    for column in COLUMNS:
        grid.add_column(column, no_wrap=column == "team")
    for team in board.teams:
        *values, verdict = cells(team, board.checked_at)
        texts = [Text(value) for value in values]
        if full_disks(team):
            texts[COLUMNS.index("agent disk")].stylize("bold red")
        grid.add_row(*texts, Text(verdict, style=STYLES.get(team.verdict, "")))
    lines = [Text(f"{board.summary_line()} ({board.when()})", style="bold")]
    return Group(grid, *lines, *(Text(f"note: {note}") for note in board.notes))


def html_page(board: Board, *, refresh: float | None = None) -> str:
    """A page for a projector: big type, a row per team, the verdicts in colour, the summary and
    the time of the check on top; it reloads itself every `refresh` seconds when given."""
    e = html.escape
    meta = f'<meta http-equiv="refresh" content="{max(1, round(refresh))}">\n' if refresh else ""
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    rows = []
    for team in board.teams:
        *values, verdict = cells(team, board.checked_at)
        tds = "".join(f"<td>{e(v)}</td>" for v in values)
        rows.append(f'<tr>{tds}<td class="verdict {e(team.verdict)}">{e(verdict)}</td></tr>')
    notes = "".join(f'<p class="note">{e(note)}</p>' for note in board.notes)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta}<title>{e(board.stack)}: {e(board.summary_line())}</title>
<style>
/* 30 rows and the summary on one screen: the type follows the screen, one line per team. */
body {{ background: #111; color: #eee; font: clamp(0.7rem, min(2.1vh, 1.05vw), 1.6rem)/1.2 system-ui, sans-serif;
        margin: 0.6rem 1.2rem; }}
h1 {{ font-size: 1.7em; margin: 0.1rem 0; }}
.when, .note {{ color: #aaa; margin: 0.1rem 0; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 0.4rem; }}
th, td {{ text-align: left; padding: 0.12em 0.5em; border-bottom: 1px solid #333; white-space: nowrap; }}
th {{ color: #aaa; font-weight: normal; }}
td.verdict {{ font-weight: bold; white-space: normal; }}
td.ready {{ background: #176c34; }}
td.building {{ background: #8a5a00; }}
td.stuck {{ background: #a12222; }}
</style>
</head>
<body>
<h1>{e(board.stack)}: {e(board.summary_line())}</h1>
<p class="when">{e(board.when())}</p>
{notes}<table>
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""


def markdown(board: Board) -> str:
    def md(text: str) -> str:
        return MARKDOWN_SPECIAL.sub(r"\\\1", text)

    lines = [
        f"# musicstore status: {md(board.stack)}",
        "",
        f"**{md(board.summary_line())}** ({md(board.when())})",
        "",
        *(f"- {md(note)}" for note in board.notes),
        *([""] if board.notes else []),
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(md(c) for c in cells(team, board.checked_at)) + " |" for team in board.teams),
    ]
    return "\n".join(lines) + "\n"


def write_board(board: Board, path: Path, *, refresh: float | None = None) -> None:
    """The board as `path`'s suffix says (.html, .htm or .md), written to a temporary file
    beside it and moved over it."""
    text = markdown(board) if path.suffix.lower() == ".md" else html_page(board, refresh=refresh)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the page from a web server's user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
