"""The status board's probes: per team its agents and last run (Azure DevOps REST), its newest
image (its registry), its app (its address) and its agents' VMs (ARM), all teams at once, every
request with a short timeout; and the verdict they add up to. A probe that fails says why in its
cell, in one line: it never stops the others."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from ops import vm_power
from ops.status_devops import HIDDEN, Agents, Run, cell, devops, reason
from promotion import azure_login
from promotion.registry_client import RegistryClient, RegistryError

REPOSITORY = "mvcmusicstore"  # each team's repository, as the pipeline pushes it
BRANCH_TAGS = ("develop", "main", "latest")  # moving tags beside the BuildId tags
NO_ADDRESS = "no address yet"
NO_LOGIN = "unknown: no Azure login"
QUEUED = {"notStarted": "queued", "postponed": "queued", "inProgress": "in progress"}  # BuildStatus
DOWN = ("deallocated", "deallocating", "stopped", "stopping")  # power states of an agent that runs no job
FAILED = ("failed", "canceled", "abandoned")  # BuildResult and TaskResult values of a run that pushed nothing
PARALLEL = 48  # threads: every probe waits on the network, none on the CPU
T = TypeVar("T")


@dataclass(frozen=True)
class Team:
    """What the stack's outputs say about a team."""

    name: str
    pool: str
    login_server: str
    username: str
    password: str = field(repr=False)
    app_url: str
    project: str | None  # the Azure DevOps project's name as in its URL, when the stack made it
    vm_ids: tuple[str, ...] | None  # None: outputs without agentResourceIds
    vm_names: tuple[str, ...] = ()
    repository: str = REPOSITORY  # the team's image, as its output `image` names it
    definition: str | None = None  # the pipeline's definition id, from its URL


@dataclass(frozen=True)
class Image:
    tag: str | None = None  # None (and no error): nothing pushed yet
    tags: tuple[str, ...] = ()  # the moving tags on the same digest
    digest: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class App:
    url: str
    status: int | None = None
    ms: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Vm:
    name: str
    power: str


@dataclass(frozen=True)
class TeamStatus:
    team: str
    agents: Agents
    run: Run
    image: Image
    app: App
    vms: tuple[Vm, ...]
    verdict: str  # ready, building, stuck
    reason: str


@dataclass(frozen=True)
class Settings:
    organization: str  # "" when neither the stack nor --organization names one
    pat: str | None = field(repr=False)
    timeout: float  # seconds, per request


class ArmLogin:
    """The ARM client of every round: made once the login gives a token, tried again each round
    until it does (an organizer may run `az login` while the board runs)."""

    def __init__(self, credential: TokenCredential | None) -> None:
        self._credential = credential
        self._power: vm_power.Power | None = None
        self.problem = ""
        # One ARM client for all: as many calls at once as it keeps connections (vm_power.PARALLEL).
        self.calls = threading.BoundedSemaphore(vm_power.PARALLEL)

    def power(self) -> vm_power.Power | None:
        if self._power is None:
            try:
                power = vm_power.Power(self._credential)
                power.check_login()
            except (azure_login.AzureLoginError, AzureError) as err:
                self.problem = azure_login.scrub(vm_power.first_line(err), os.environ)
                return None
            self._power, self.problem = power, ""
        return self._power


def newest(tags: Sequence[str]) -> str:
    """The newest build among a repository's tags: the highest BuildId; else a moving tag."""
    numbers = [tag for tag in tags if tag.isdigit()]
    if numbers:
        return max(numbers, key=int)
    return next((tag for tag in BRANCH_TAGS if tag in tags), sorted(tags)[-1])


def image(team: Team, timeout: float) -> Image:
    if not team.login_server:
        return Image(error="no registry in the outputs")
    if not team.password or team.password == HIDDEN:
        return Image(error="no registry password in the outputs")
    client = RegistryClient(team.login_server, team.username, team.password, timeout=timeout)
    try:
        tags = client.tags(team.repository)
        if not tags:
            return Image()
        tag = newest(tags)
        digest = client.manifest_digest(team.repository, tag)
        same = tuple(
            t for t in BRANCH_TAGS if t != tag and t in tags and client.manifest_digest(team.repository, t) == digest
        )
        return Image(tag, same, digest)
    except RegistryError as err:
        return Image(error=cell(str(err), team.password))
    finally:
        client.session.close()


def app(team: Team, timeout: float) -> App:
    url = team.app_url.strip()
    if not url.startswith(("http://", "https://")):
        return App(url, error=NO_ADDRESS)
    started = time.monotonic()
    try:
        # The answer's head is enough: the body of a slow page would only hold up the board.
        with requests.get(url, timeout=timeout, allow_redirects=False, stream=True) as response:
            return App(url, response.status_code, round((time.monotonic() - started) * 1000))
    except requests.RequestException as err:
        return App(url, error=reason(err))


def vms(
    team: Team, arm: Future[vm_power.Power | None], calls: threading.BoundedSemaphore, timeout: float
) -> tuple[Vm, ...]:
    if team.vm_ids is None:
        return tuple(Vm(name, "unknown: the outputs have no agentResourceIds") for name in team.vm_names)
    result = []
    for resource_id in team.vm_ids:
        try:
            vm = vm_power.agent(team.name, resource_id)
        except ValueError:
            result.append(Vm(resource_id.rsplit("/", 1)[-1], "unknown: not a VM's resource id"))
            continue
        power = arm.result()
        if power is None:
            result.append(Vm(vm.name, NO_LOGIN))
            continue
        try:
            with calls:
                result.append(Vm(vm.name, power.state(vm, timeout=timeout)))
        except (AzureError, azure_login.AzureLoginError) as err:
            text = azure_login.scrub(vm_power.first_line(err), os.environ)
            result.append(Vm(vm.name, f"unknown: {cell(text)}"))
    return tuple(result)


def verdict(agents: Agents, run: Run, image: Image, app: App, vms: Sequence[Vm]) -> tuple[str, str]:
    """ready when the app answers; building while a run is queued or runs; else stuck, with the
    first cause found upstream of the app (its agents, its last run, its image), else the app's."""
    if app.status is not None and app.status < 400:
        return "ready", f"app answers {app.status}"
    if run.status in QUEUED:
        return "building", " ".join(word for word in ("run", run.number, QUEUED[run.status]) if word)
    down = next((vm.power for vm in vms if vm.power in DOWN), None)
    if down:
        return "stuck", f"agent VM {down}"
    if agents.online == 0:
        return "stuck", "no agent online" if agents.total else "no agent in the pool"
    if run.status == "completed" and run.result in FAILED:
        return "stuck", f"last run {run.result}"
    if image.error is None and image.tag is None:
        return "stuck", "no image yet"
    if app.error is not None:
        return "stuck", f"app: {app.error}"
    return "stuck", f"app answers {app.status}"


def probe_all(teams: Sequence[Team], settings: Settings, arm: ArmLogin, *, limit: float) -> tuple[TeamStatus, ...]:
    """Every probe of every team at once, each request within the settings' timeout; a probe that
    has not answered after `limit` seconds all the same (a login that hangs, a server that trickles)
    shows that, and its thread is left behind: it holds neither the round nor the exit."""
    pool = Daemons(PARALLEL)
    power = pool.submit(arm.power, slot=False)  # the VM probes wait for it, holding their slots
    jobs = [_Jobs.submit(pool, team, settings, power, arm.calls) for team in teams]
    wait([future for job in jobs for future in job.futures()], timeout=limit)
    return tuple(job.collect(f"no answer within {limit:g} s") for job in jobs)


class Daemons:
    """Runs each call on a daemon thread, at most `workers` at once. A ThreadPoolExecutor's
    threads are joined when the interpreter exits (concurrent.futures registers that), so one
    probe stuck on a server that sends a byte at a time would hold the command's exit, Ctrl-C too."""

    def __init__(self, workers: int) -> None:
        self._slots = threading.BoundedSemaphore(workers)

    def submit(self, call: Callable[[], T], *, slot: bool = True) -> Future[T]:
        """`slot` False: a call the others wait for, which must never wait for a slot itself."""
        future: Future[T] = Future()

        def run() -> None:
            with self._slots if slot else contextlib.nullcontext():
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    future.set_result(call())
                except BaseException as err:  # the future carries it to its reader
                    future.set_exception(err)

        threading.Thread(target=run, daemon=True, name="status-probe").start()
        return future


@dataclass(frozen=True)
class _Jobs:
    """A team's probes under way."""

    team: Team
    devops: Future[tuple[Agents, Run]]
    image: Future[Image]
    app: Future[App]
    vms: Future[tuple[Vm, ...]]

    @classmethod
    def submit(
        cls,
        pool: Daemons,
        team: Team,
        settings: Settings,
        power: Future[vm_power.Power | None],
        calls: threading.BoundedSemaphore,
    ) -> _Jobs:
        def on_devops() -> tuple[Agents, Run]:
            return devops(
                team.pool, team.project, settings.organization, settings.pat, settings.timeout, team.definition
            )

        return cls(
            team,
            pool.submit(_guarded(on_devops, lambda e: (Agents(error=e), Run(error=e)))),
            pool.submit(_guarded(lambda: image(team, settings.timeout), lambda e: Image(error=e))),
            pool.submit(_guarded(lambda: app(team, settings.timeout), lambda e: App(team.app_url, error=e))),
            pool.submit(
                _guarded(lambda: vms(team, power, calls, settings.timeout), lambda e: (Vm("?", f"unknown: {e}"),))
            ),
        )

    def futures(self) -> list[Future[Any]]:
        return [self.devops, self.image, self.app, self.vms]

    def collect(self, late: str) -> TeamStatus:
        """The team's status; `late` for each probe that has not answered yet."""
        agents, run = _done(self.devops, (Agents(error=late), Run(error=late)))
        got = (agents, run, _done(self.image, Image(error=late)), _done(self.app, App(self.team.app_url, error=late)))
        machines = _done(self.vms, (Vm("?", f"unknown: {late}"),))
        return TeamStatus(self.team.name, *got, machines, *verdict(*got, machines))


def _done(future: Future[T], late: T) -> T:
    return future.result() if future.done() else late


def _guarded(probe: Callable[[], T], failed: Callable[[str], T]) -> Callable[[], T]:
    """`probe`, whose unforeseen exception becomes its cell's text rather than the board's end."""

    def run() -> T:
        try:
            return probe()
        except Exception as err:  # one team's surprise must not hide the 29 others
            return failed(cell(f"{type(err).__name__}: {err}"))

    return run
