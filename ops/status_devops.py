"""The status board's Azure DevOps probe: a team's agents (online or not, their current and last
job) and its last pipeline run, over the REST API with a PAT; and the one-line texts every probe
shows for what went wrong.

The shapes read here are the REST API 7.1's (the api-versions below, TASK_AGENT_API and BUILD_API):
- Pools - Get Agent Pools, `GET {org}/_apis/distributedtask/pools?poolName=`, answers
  `{"count", "value": [TaskAgentPool {id, name, ...}]}`; the agent itself finds its pool this way
  (microsoft/azure-pipelines-agent, src/Agent.Listener/Configuration/ConfigurationProvider.cs:
  `GetAgentPoolsAsync(poolName).FirstOrDefault()`).
- Agents - List, `GET {org}/_apis/distributedtask/pools/{poolId}/agents?includeAssignedRequest=true
  &includeLastCompletedRequest=true`, answers `{"count", "value": [TaskAgent]}`: `status` is
  TaskAgentStatus (`offline`, `online`), `enabled` a bool, `assignedRequest` (the job it runs now)
  and `lastCompletedRequest` TaskAgentJobRequests with `finishTime`, `result` (TaskResult:
  succeeded, succeededWithIssues, failed, canceled, skipped, abandoned), `jobName`, `owner.name`
  (azure-devops-python-api, azure/devops/v7_1/task_agent/models.py: TaskAgent,
  TaskAgentJobRequest; azure-devops-node-api TaskAgentInterfaces.ts: TaskAgentStatus).
- Builds - List, `GET {org}/{project}/_apis/build/builds?$top=10&queryOrder=queueTimeDescending`
  (https://learn.microsoft.com/rest/api/azure/devops/build/builds/list), answers
  `{"count", "value": [Build {buildNumber, status, result, finishTime, tags}]}`: `status` is
  BuildStatus (notStarted, inProgress, completed, cancelling, postponed), `result` BuildResult
  (succeeded, partiallySucceeded, failed, canceled), `tags` the build's tags, among them the
  `agent-disk:<agent>:<percent>` that azure-pipelines.yml's last step adds
  (`##vso[build.addbuildtag]`) with the disk use of the agent it ran on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from infra import messages

# As Microsoft's client library asks for them (azure-devops-python-api, azure/devops/v7_1:
# task_agent_client.py get_agent_pools and get_agents, build_client.py get_builds): the task-agent
# routes are still preview in 7.1, and the service refuses a released version of a preview route.
TASK_AGENT_API = "7.1-preview.1"
BUILD_API = "7.1-preview.7"
PAT_VARIABLE = "AZURE_DEVOPS_EXT_PAT"  # the variable the Azure DevOps CLI reads its PAT from
NO_PAT = f"no PAT (set {PAT_VARIABLE})"
NO_ORGANIZATION = "no organization (azdoOrganizationUrl, or --organization)"
CELL = 90  # characters of a server's text shown in a cell
HIDDEN = "[secret]"
DISK_TAG = "agent-disk:"  # agent-disk:<agent name>:<percent used>, a build tag of the pipeline
DISK_BUILDS = 10  # the newest builds read for each agent's last disk use


@dataclass(frozen=True)
class Agents:
    online: int | None = None
    total: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Disk:
    agent: str
    used_percent: int
    build: str | None  # the build whose clean-up measured it


@dataclass(frozen=True)
class Run:
    source: str = ""  # "pipeline": the project's last build; "agents": the pool's jobs
    status: str | None = None  # BuildStatus; None (and no error): no run yet
    result: str | None = None
    number: str | None = None
    finished: str | None = None  # as the server wrote it (RFC 3339)
    error: str | None = None
    disks: tuple[Disk, ...] = ()  # each agent's disk use, from the newest build that says it


class ProbeError(Exception):
    """What a probe shows instead of its answer; the message is one short line."""


def cell(text: str, *hidden: str) -> str:
    """`text` as a cell shows it: its first line, escaped, shortened, without any of `hidden`."""
    for secret in hidden:
        if secret:
            text = text.replace(secret, HIDDEN)
    lines = text.strip().splitlines()
    return messages.shortened(messages.visible(lines[0] if lines else "no detail"), CELL)


def reason(err: requests.RequestException) -> str:
    """A failed request in a few words: requests' own messages repeat the URL and the library's
    class names."""
    if isinstance(err, requests.Timeout):
        return "timed out"
    text = str(err)
    for known, said in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("Connection reset", "connection reset"),
        ("CERTIFICATE_VERIFY_FAILED", "certificate not trusted"),
    ):
        if known in text:
            return said
    return cell(text)


def devops(
    pool: str, project: str | None, organization: str, pat: str | None, timeout: float, definition: str | None = None
) -> tuple[Agents, Run]:
    """The pool's agents and the team's last run: the project's last build (of its pipeline's
    definition, when known) when the stack made the project, else the pool's current or last job."""
    if not organization:
        return Agents(error=NO_ORGANIZATION), Run(error=NO_ORGANIZATION)
    if not pat:
        return Agents(error=NO_PAT), Run(error=NO_PAT)
    with requests.Session() as session:
        session.auth = ("", pat)  # a PAT is the password of basic auth, with any user name
        try:
            agents = _pool_agents(session, organization, pool, timeout)
            found = Agents(sum(_online(a) for a in agents), len(agents))
            run = _last_job(agents)
        except ProbeError as err:
            found, run = Agents(error=cell(str(err), pat)), Run("agents", error=cell(str(err), pat))
        if project is None:
            return found, run
        try:
            return found, _last_build(session, f"{organization}/{project}", timeout, definition)
        except ProbeError as err:
            return found, Run("pipeline", error=cell(str(err), pat))


def _pool_agents(session: requests.Session, organization: str, pool: str, timeout: float) -> list[dict[str, Any]]:
    found = _get(session, f"{organization}/_apis/distributedtask/pools", {"poolName": pool}, timeout, TASK_AGENT_API)
    pools = _values(found, "pools")
    # Pool names are unique in an organization, and compared without case.
    found = [p for p in pools if str(p.get("name", "")).casefold() == pool.casefold()]
    if not found:
        raise ProbeError(f"no agent pool {pool} in the organization")
    url = f"{organization}/_apis/distributedtask/pools/{found[0].get('id')}/agents"
    asked = {"includeAssignedRequest": "true", "includeLastCompletedRequest": "true"}
    return _values(_get(session, url, asked, timeout, TASK_AGENT_API), "agents")


def _online(agent: dict[str, Any]) -> bool:
    return agent.get("status") == "online" and agent.get("enabled") is not False


def _last_job(agents: list[dict[str, Any]]) -> Run:
    running = [a["assignedRequest"] for a in agents if isinstance(a.get("assignedRequest"), dict)]
    if running:
        return Run("agents", "inProgress", number=_job_name(running[0]))
    done = [a["lastCompletedRequest"] for a in agents if isinstance(a.get("lastCompletedRequest"), dict)]
    if not done:
        return Run("agents")
    last = max(done, key=lambda job: str(job.get("finishTime") or ""))
    return Run("agents", "completed", _text(last.get("result")), _job_name(last), _text(last.get("finishTime")))


def _job_name(job: dict[str, Any]) -> str | None:
    owner = job.get("owner")
    return _text(owner.get("name") if isinstance(owner, dict) else None) or _text(job.get("jobName"))


def _last_build(session: requests.Session, project_url: str, timeout: float, definition: str | None) -> Run:
    asked = {"$top": str(DISK_BUILDS), "queryOrder": "queueTimeDescending"}
    asked.update({"definitions": definition} if definition else {})
    builds = _values(_get(session, f"{project_url}/_apis/build/builds", asked, timeout, BUILD_API), "builds")
    if not builds:
        return Run("pipeline")
    build = builds[0]
    return Run(
        "pipeline",
        _text(build.get("status")),
        _text(build.get("result")),
        _text(build.get("buildNumber")),
        _text(build.get("finishTime")),
        disks=disks(builds),
    )


def disks(builds: list[dict[str, Any]]) -> tuple[Disk, ...]:
    """Each agent's disk use from its newest build's `agent-disk:<agent>:<percent>` tag, by agent."""
    found: dict[str, Disk] = {}
    for build in builds:  # newest first
        tags = build.get("tags")
        for tag in tags if isinstance(tags, list) else []:
            agent, _, percent = str(tag).removeprefix(DISK_TAG).rpartition(":")
            if str(tag).startswith(DISK_TAG) and agent and percent.isdigit() and agent not in found:
                found[agent] = Disk(agent, min(int(percent), 100), _text(build.get("buildNumber")))
    return tuple(sorted(found.values(), key=lambda d: d.agent))


def _get(session: requests.Session, url: str, params: dict[str, str], timeout: float, version: str) -> Any:
    try:
        response = session.get(url, params={**params, "api-version": version}, timeout=timeout, allow_redirects=False)
    except requests.RequestException as err:
        raise ProbeError(f"Azure DevOps: {reason(err)}") from None
    with response:
        if response.status_code == 401:
            raise ProbeError("Azure DevOps refused the PAT (HTTP 401)")
        if response.status_code == 203 or 300 <= response.status_code < 400:
            # Azure DevOps answers a PAT it does not take with its sign-in page, not with a 401.
            raise ProbeError(f"Azure DevOps sent its sign-in page (HTTP {response.status_code}): is the PAT valid?")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            said = body.get("message") if isinstance(body, dict) else None
            raise ProbeError(f"Azure DevOps: HTTP {response.status_code}" + (f": {said}" if said else ""))
        if body is None:
            raise ProbeError("Azure DevOps answered something not JSON")
        return body


def _values(body: Any, what: str) -> list[dict[str, Any]]:
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise ProbeError(f"Azure DevOps listed the {what} without a `value` list")
    return [v for v in values if isinstance(v, dict)]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
