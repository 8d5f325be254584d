"""A handout per team, in Markdown and CSV, from a stack's outputs.

    musicstore handout venue-ams --out handouts/       # reads pulumi stack output --json --show-secrets

It gives each team its registry (login server, admin username), its agent pool and its
app's address, and says how to read the registry password. The password itself is written
only with `--show-passwords`. The files are the organizer's alone: mode 0600, in a directory
mode 0700. The outputs are read from the stack with the Pulumi CLI (its backend logged in to, its
secrets' passphrase or key at hand, as for `pulumi up`); `--outputs FILE` reads them from that
command's JSON instead, and `--offline` from the offline plan, to see the handout's shape.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import messages
from infra.stack_config import ConfigError
from infra.stack_files import StackFileError
from offline.plan import PlanError

HIDDEN = "[secret]"
PRIVATE_DIRECTORY, PRIVATE_FILE = 0o700, 0o600


@dataclass(frozen=True)
class TeamSheet:
    stack: str
    team: str
    registry: str
    login_server: str
    username: str
    password: str | None  # None: not to be shown
    agent_pool: str
    agents: int
    namespace: str
    app_url: str
    # The team's Azure DevOps pages when the stack manages Azure DevOps (azdoManage), else None.
    devops: dict[str, str] | None = None

    def read_password(self) -> str:
        return (
            f'az acr credential show --name {self.registry} --query "passwords[0].value" -o tsv  '
            f"(or: pulumi stack output teams --stack {self.stack} --show-secrets)"
        )


class HandoutError(Exception):
    """The outputs cannot make a handout; the message says why."""


def sheets(stack: str, outputs: dict[str, Any], *, show_passwords: bool) -> list[TeamSheet]:
    teams = outputs.get("teams")
    if teams == HIDDEN:  # one secret output, as it holds the passwords
        raise HandoutError("the outputs' `teams` is a secret: take them with pulumi stack output --json --show-secrets")
    if not isinstance(teams, dict) or not teams:
        raise HandoutError("the outputs have no `teams`: take them with pulumi stack output --json")
    result = []
    for team, out in sorted(teams.items()):
        password = out.get("registryAdminPassword")
        if show_passwords and (not isinstance(password, str) or password == HIDDEN):
            raise HandoutError("--show-passwords needs outputs taken with pulumi stack output --json --show-secrets")
        result.append(
            TeamSheet(
                stack=stack,
                team=team,
                registry=str(out.get("registryName", "")),
                login_server=str(out.get("registryLoginServer", "")),
                username=str(out.get("registryAdminUsername", "")),
                password=password if show_passwords else None,
                agent_pool=str(out.get("agentPool", "")),
                agents=len(out.get("agents") or []),
                namespace=str(out.get("namespace", "")),
                app_url=str(out.get("appUrl") or "(not assigned yet)"),
                devops={k: str(v) for k, v in out["devops"].items()} if isinstance(out.get("devops"), dict) else None,
            )
        )
    return result


def markdown(sheet: TeamSheet) -> str:
    password = f"`{sheet.password}`" if sheet.password is not None else f"read it with `{sheet.read_password()}`"
    return f"""# MvcMusicStore bootcamp: {sheet.team} ({sheet.stack})
{_devops_section(sheet)}
## Your container registry
- Login server: `{sheet.login_server}`
- Admin username: `{sheet.username}`
- Admin password: {password}
{_registry_connection(sheet)}
## Your build agents
- Agent pool: `{sheet.agent_pool}` ({sheet.agents} Windows agent(s) with Docker, registered for you)
- Point your pipeline at it: `pool: {{ name: {sheet.agent_pool} }}`

## Your app
- Kubernetes namespace: `{sheet.namespace}`
- Address: {sheet.app_url}
"""


def _devops_section(sheet: TeamSheet) -> str:
    """The team's Azure DevOps project, when the stack made it: what is already wired, and
    what the organizer still gives (the toolkit's push when it was not imported, the release's
    Azure connection and secrets)."""
    if sheet.devops is None:
        return ""
    d = sheet.devops
    if d.get("toolkitImported") == "True":
        start = "Push to `main` or `develop` of MvcMusicStore and the pipeline runs."
    else:
        start = (
            "Your organizer pushes the toolkit (with `azure-pipelines.yml`) into musicstore-toolkit"
            " before your first run; then a push to `main` or `develop` of MvcMusicStore runs the pipeline."
        )
    return f"""
## Your Azure DevOps project (ready)
- Project: {d.get("projectUrl", "")}
- Repository with the MvcMusicStore source: {d.get("repositoryUrl", "")}
- Toolkit repository with the pipeline file: {d.get("toolkitRepositoryUrl", "")}
- Pipeline: {d.get("pipelineUrl", "")}

Already done for you: the agent pool `{sheet.agent_pool}` with its queue, the service connections
`musicstore-dev-registry` (your registry) and `musicstore-kubernetes` (your namespace only),
the variable group `musicstore`, the pipeline on `azure-pipelines.yml`, and the environment
`musicstore-prod` with its approval by your project's Contributors. No service connection to
create for the build. {start}
The release to prod (a run with release=true) also needs what your organizer sets up: the
service connection `musicstore-azure`, the build service's Contribute right on musicstore-toolkit,
`pulumiBackendUrl` in the variable group unless the stack set it, and the pipeline's secret
variable `databaseConnectionString` where prod uses an external database.
"""


def _registry_connection(sheet: TeamSheet) -> str:
    if sheet.devops is not None:
        return f"""
The pipeline pushes `{sheet.login_server}/mvcmusicstore:<BuildId>` through the service connection
`musicstore-dev-registry`, already made from these credentials.
"""
    return f"""
In Azure DevOps, create a Docker Registry service connection (type "Others", registry
`https://{sheet.login_server}`) with these credentials, and push
`{sheet.login_server}/mvcmusicstore:<BuildId>`.
"""


def table(all_sheets: list[TeamSheet]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    devops = any(s.devops for s in all_sheets)  # columns only where the stack made the projects
    urls = ["project_url", "repository_url", "pipeline_url"] if devops else []
    writer.writerow(
        [
            "team",
            "registry_login_server",
            "admin_username",
            "admin_password",
            "agent_pool",
            "namespace",
            "app_url",
            *urls,
        ]
    )
    for s in all_sheets:
        password = s.password if s.password is not None else f"not shown: {s.read_password()}"
        d = s.devops or {}
        links = [d.get("projectUrl", ""), d.get("repositoryUrl", ""), d.get("pipelineUrl", "")] if devops else []
        writer.writerow([s.team, s.login_server, s.username, password, s.agent_pool, s.namespace, s.app_url, *links])
    return out.getvalue()


def write(all_sheets: list[TeamSheet], directory: Path) -> list[Path]:
    """A sheet per team and teams.csv, readable by their owner only (they name the registries and
    may hold passwords): files mode 0600 in a directory mode 0700."""
    written = [write_sheet(sheet, directory) for sheet in all_sheets]
    summary = directory / "teams.csv"
    _private(summary, table(all_sheets))
    return [*written, summary]


def rewrite_row(sheet: TeamSheet, directory: Path) -> Path | None:
    """The team's row of an existing teams.csv, as the sheet now says; the other rows as they
    were (with or without their passwords). None: no teams.csv there."""
    summary = directory / "teams.csv"
    if not summary.exists():
        return None
    rows = list(csv.reader(io.StringIO(summary.read_text(encoding="utf-8"))))
    fresh = list(csv.reader(io.StringIO(table([sheet]))))
    header, row = fresh[0], fresh[1]
    if not rows or rows[0] != header:
        raise HandoutError(f"{summary} has other columns than a handout writes: write the handouts anew")
    kept = [r for r in rows[1:] if r and r[0] != sheet.team]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *sorted([*kept, row], key=lambda r: r[0])])
    _private(summary, out.getvalue())
    return summary


def write_sheet(sheet: TeamSheet, directory: Path) -> Path:
    """One team's sheet (again, after its password was rotated)."""
    directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    directory.chmod(PRIVATE_DIRECTORY)  # also a directory that was there before, wider
    path = directory / f"{sheet.team}.md"
    _private(path, markdown(sheet))
    return path


def _private(path: Path, text: str) -> None:
    """Writes `text` to a file no one else can read at any moment (created 0600, never wider), whole
    or not at all: a failed write keeps the sheet that was there."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)  # whatever the umask
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_outputs(path: Path) -> dict[str, Any]:
    """The JSON `pulumi stack output --json` printed, saved to `path`."""
    text = path.read_text(encoding="utf-8")
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as err:
        raise HandoutError(
            f"{path} is not JSON ({err.msg}, line {err.lineno}): take the outputs with pulumi stack output --json"
        ) from None
    if not isinstance(outputs, dict):
        raise HandoutError(f"{path} holds JSON but not the outputs' object: take them with pulumi stack output --json")
    return outputs


def _from_the_stack(stack: str) -> dict[str, Any]:
    """The outputs as `pulumi stack output --json --show-secrets` prints them (`teams` is one
    secret, as it holds the passwords), kept in memory only."""
    from ops import agents

    try:
        agents.check_stack(stack)
        outputs = agents.stack_outputs(stack, show_secrets=True)
    except (agents.AgentsError, agents.InputError) as err:
        raise HandoutError(str(err)) from None
    if not outputs:
        raise HandoutError(f"{stack} has no outputs: it was never deployed (--offline shows a handout's shape)")
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = messages.Parser(prog="musicstore handout", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--outputs",
        type=Path,
        help="JSON of `pulumi stack output --json --show-secrets` (default: read from the stack)",
    )
    source.add_argument("--offline", action="store_true", help="the offline plan's outputs")
    parser.add_argument("--show-passwords", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.offline:
            from offline.plan import make_plan
            from offline.recording import mask

            outputs = mask(make_plan(args.stack).recording.stack_outputs)
        elif args.outputs:
            outputs = read_outputs(args.outputs)
        else:
            outputs = _from_the_stack(args.stack)
        written = write(sheets(args.stack, outputs, show_passwords=args.show_passwords), args.out / args.stack)
    except (HandoutError, ConfigError, StackFileError, PlanError, OSError, ValueError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    print(f"{len(written) - 1} team handouts and teams.csv written to {args.out / args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
