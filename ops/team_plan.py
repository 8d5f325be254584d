"""What one team's operation changes, planned offline: the plan `ops.team` makes and
`ops.team_apply` carries out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra import stack_files
from offline import changes
from offline.changes import Change
from ops.team_file import Edit


@dataclass(frozen=True)
class TeamPlan:
    stack: str
    team: str
    what: str
    changes: tuple[Change, ...]
    edit: Edit | None = None  # the stack file as the change leaves it (add, remove)
    up_args: tuple[str, ...] = ()  # what `pulumi up` takes besides the stack (replace-agent)
    rotates: bool = False  # Azure regenerates the team's registry password first
    teams_before: tuple[str, ...] = ()
    root: Path = stack_files.ROOT

    @property
    def others(self) -> list[Change]:
        """The changes that are another team's or shared."""
        teams = sorted({*self.teams_before, *(self.edit.teams if self.edit else ())})
        return changes.others(self.changes, self.team, teams)

    def report(self) -> list[str]:
        lines = [f"{self.what} on {self.stack}, planned offline (the program under mocks):"]
        lines += changes.describe(self.changes)
        foreign = self.others
        if foreign:
            lines.append(f"{len(foreign)} of {len(self.changes)} changes are not {self.team}'s:")
            lines += changes.describe(foreign)
        else:
            lines.append(f"{len(self.changes)} resources change, all {self.team}'s: no other team's and no shared one.")
        return lines
