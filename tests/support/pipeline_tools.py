"""Which tools the team pipeline runs on its self-hosted agent, and which the bootstrap installs.

Both are read from the files: the steps of azure-pipelines.yml (their tasks, checkouts and the
commands of their inline PowerShell) and the download URLs of agent-bootstrap.ps1. What is
known here is only what no file says: which tool a task or a vendor's download brings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# What a task needs on the agent beyond Windows PowerShell and the agent itself.
TASK_TOOLS: dict[str, frozenset[str]] = {
    "AzureCLI": frozenset({"az"}),  # logs az in with the service connection, then runs the script
    "Docker": frozenset({"docker"}),
    "PowerShell": frozenset(),  # Windows PowerShell; pwsh when its input pwsh is true
    "PublishPipelineArtifact": frozenset(),
    "DownloadPipelineArtifact": frozenset(),
}
SCRIPT_INPUTS = ("script", "inlineScript")
# What a vendor's download puts on the PATH.
INSTALLERS: dict[str, frozenset[str]] = {
    "https://download.docker.com/win/static/": frozenset({"docker", "dockerd"}),
    "https://www.python.org/ftp/python/": frozenset({"python", "pip"}),
    "https://azcliprod.blob.core.windows.net/msi/": frozenset({"az"}),
    "https://aka.ms/installazurecliwindows": frozenset({"az"}),
    "https://get.pulumi.com/releases/sdk/": frozenset({"pulumi"}),
    "https://github.com/git-for-windows/git/releases/": frozenset({"git"}),
}
# A checkout puts the agent's own Git first on the PATH for the rest of its job
# (azure-pipelines-agent src/Agent.Plugins/GitCliManager.cs: PrependPath, task.prependpath).
CHECKOUT_TOOLS = frozenset({"git"})

KEYWORDS = _words(
    "if elseif else foreach for while do until switch try catch finally throw return break continue exit"
    " function param begin process end trap in filter data class enum using"
)
# Cmdlets are Verb-Noun; a hyphenated tool name (docker-compose) has no PowerShell verb first.
VERBS = _words(
    "add clear compress convertfrom convertto copy expand export foreach format get import invoke join measure"
    " move new out read register remove rename resolve restart select set sort split start stop test"
    " unregister wait where write"
)
ALIASES = _words("echo cd ls dir cat cp mv rm del copy move mkdir md pushd popd where select sort iex iwr irm")
MACRO = re.compile(r"\$\(\s*[\w.]+\s*\)|\$\{\{.*?\}\}|\$\[.*?\]")  # $(var), ${{ expr }}, $[ expr ]
STRING = re.compile(r"'[^']*'|\"(?:`.|[^\"`])*\"")
COMMAND = re.compile(r"(?:^|[;|{(=&])\s*(?:&\s*)?([A-Za-z][\w.-]*)")
URL = re.compile(r"https?://[^\s'\"`)]+")


@dataclass(frozen=True)
class Need:
    tool: str
    job: str
    step: str

    def line(self) -> str:
        return f"{self.job}: step {self.step!r} runs {self.tool}, which the agent bootstrap does not install"


class UnknownStepError(ValueError):
    """A step whose tools this module cannot tell: say in TASK_TOOLS what it needs."""


def commands(script: str) -> set[str]:
    """The programs an inline PowerShell script starts: the words in command position that
    are neither PowerShell keywords, cmdlets nor aliases, paths or variables."""
    found = set()
    for raw in script.splitlines():
        line = STRING.sub("''", MACRO.sub("x", raw)).split("#", 1)[0]
        for word in COMMAND.findall(line):
            lower = word.lower()
            cmdlet = "-" in lower and lower.split("-", 1)[0] in VERBS
            if lower in KEYWORDS or lower in ALIASES or cmdlet:
                continue
            found.add(lower)
    return found


def installed(script: str) -> set[str]:
    """The tools the bootstrap downloads, by the URLs outside its comments."""
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    urls = URL.findall(code)
    return {tool for prefix, tools in INSTALLERS.items() if any(u.startswith(prefix) for u in urls) for tool in tools}


def agent_jobs(pipeline: Mapping[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(stage.job, steps) of every job on a self-hosted pool (a pool `name`, not a `vmImage`)."""
    for stage in pipeline.get("stages") or []:
        for job in stage.get("jobs") or []:
            pool = job.get("pool") or stage.get("pool") or pipeline.get("pool")
            if isinstance(pool, dict) and "vmImage" in pool:
                continue
            yield f"{stage['stage']}.{job.get('job') or job.get('deployment')}", _steps(job)


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """A job's steps: the list itself when there is one (a deployment job keeps its steps in
    the hooks of its strategy, usually one)."""
    lists = list(_step_lists(job))
    return lists[0] if len(lists) == 1 else [step for steps in lists for step in steps]


def _step_lists(node: Any) -> Iterator[list[dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("steps"), list):
            yield node["steps"]
        else:
            for key, value in node.items():
                if key != "pool":
                    yield from _step_lists(value)


def step_tools(step: Mapping[str, Any]) -> set[str]:
    if "checkout" in step or "publish" in step or "download" in step:
        return set()
    if "task" in step:
        name = str(step["task"]).split("@")[0]
        if name not in TASK_TOOLS:
            raise UnknownStepError(f"task {step['task']}: which tools does it run on the agent?")
        inputs = step.get("inputs") or {}
        tools = set(TASK_TOOLS[name]) | {
            c for key in SCRIPT_INPUTS if key in inputs for c in commands(str(inputs[key]))
        }
        if name == "PowerShell" and _true(inputs.get("pwsh")):
            tools.add("pwsh")
        return tools
    for shortcut in ("powershell", "pwsh"):
        if shortcut in step:
            return commands(str(step[shortcut])) | ({"pwsh"} if shortcut == "pwsh" else set())
    raise UnknownStepError(f"step {dict(step)}: which tools does it run on the agent?")


def needs(pipeline: Mapping[str, Any]) -> list[Need]:
    """Every tool a step runs that neither Windows nor the agent (after a checkout) brings."""
    found = []
    for job, steps in agent_jobs(pipeline):
        from_agent: set[str] = set()
        for step in steps:
            if "checkout" in step and step["checkout"] != "none":
                from_agent |= CHECKOUT_TOOLS
            label = str(step.get("displayName") or step.get("task") or step.get("checkout") or "?")
            found += [Need(tool, job, label) for tool in sorted(step_tools(step) - from_agent)]
    return found


def missing(pipeline: Mapping[str, Any], script: str) -> list[Need]:
    have = installed(script)
    return [need for need in needs(pipeline) if need.tool not in have]


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
