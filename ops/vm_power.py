"""The build agents' power over Azure Resource Manager: read a VM's power state from its instance
view, start it or deallocate it and wait until ARM says it is done, many VMs in parallel with
their progress shown.

The Azure login and cloud are the ones the azure-native provider would use from the same
environment (promotion.azure_login: ARM_* variables, OIDC in the workflows, else `az login`), so
whoever can run `pulumi up` can start the agents. The subscription is the one in each VM's
resource id.

MUSICSTORE_ARM_ENDPOINT replaces the cloud's Resource Manager address: for the tests only, which
point it at a local stand-in of ARM's compute endpoints.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from azure.mgmt.compute import ComputeManagementClient
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from promotion import azure_login

ENDPOINT_VARIABLE = "MUSICSTORE_ARM_ENDPOINT"  # test-only
# requests keeps 10 connections per host: more threads would open and drop connections.
PARALLEL = 10
# ARM usually says when to poll next (Retry-After); without it the SDK would wait 30 s between
# polls, half of a typical Windows start.
POLL_SECONDS = 5
# A start or deallocation takes one to three minutes; far beyond that, ARM is stuck.
WAIT_SECONDS = 20 * 60
RUNNING, DEALLOCATED = "running", "deallocated"
VM_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Agent:
    team: str
    subscription: str
    group: str
    name: str


def agent(team: str, resource_id: str) -> Agent:
    found = VM_ID.match(resource_id)
    if not found:
        raise ValueError(f"{resource_id!r} is not a virtual machine's resource id (team {team})")
    return Agent(team, found["subscription"], found["group"], found["name"])


@dataclass(frozen=True)
class Outcome:
    agent: Agent
    state: str  # the power state at the end: running, deallocated, stopped, starting, ...
    acted: bool  # started or deallocated here (False: it already was as wanted, or failed)
    error: str | None = None


def power_state(codes: Sequence[str | None]) -> str:
    """The power state among an instance view's status codes (`PowerState/deallocated`)."""
    for code in codes:
        if code and code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return "unknown"


class SharedToken:
    """One token for all threads: without it each thread's first request runs the login
    (an `az` process, a token request) of its own."""

    def __init__(self, inner: TokenCredential) -> None:
        self._inner, self._token, self._lock = inner, AccessToken("", 0), threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        with self._lock:
            if self._token.expires_on - time.time() < 300:
                self._token = self._inner.get_token(*scopes, **kwargs)
            return self._token


class Power:
    """The ARM calls, through one client per subscription (clients are thread-safe)."""

    def __init__(self, login: TokenCredential | None = None) -> None:
        """`login`: a credential to use instead of the provider's choice (the tests' own)."""
        chosen = azure_login.choose_login(os.environ)
        self._cloud = replace(
            chosen.cloud, resource_manager=os.environ.get(ENDPOINT_VARIABLE, "") or chosen.cloud.resource_manager
        )
        self._login = SharedToken(login or azure_login.credential(chosen, os.environ))
        self._clients: dict[str, ComputeManagementClient] = {}
        self._lock = threading.Lock()

    def check_login(self) -> None:
        """Raises the login's error (AzureLoginError, ClientAuthenticationError) before any VM is touched."""
        self._login.get_token(self._cloud.scope)

    def _client(self, subscription: str) -> ComputeManagementClient:
        with self._lock:
            if subscription not in self._clients:
                self._clients[subscription] = ComputeManagementClient(
                    self._login,
                    subscription,
                    base_url=self._cloud.resource_manager.rstrip("/"),
                    credential_scopes=[self._cloud.scope],
                    polling_interval=POLL_SECONDS,
                )
            return self._clients[subscription]

    def state(self, vm: Agent, *, timeout: float | None = None) -> str:
        """`timeout`: seconds to connect and to wait for the answer (azure-core's transport
        options), for a status board that must not hang on one VM; None, the SDK's own."""
        limits = {"connection_timeout": timeout, "read_timeout": timeout} if timeout else {}
        view = self._client(vm.subscription).virtual_machines.instance_view(vm.group, vm.name, **limits)
        return power_state([status.code for status in view.statuses or []])

    def start(self, vm: Agent) -> bool:
        """Starts `vm` and waits until ARM says it is done (True) or WAIT_SECONDS have passed."""
        poller = self._client(vm.subscription).virtual_machines.begin_start(vm.group, vm.name)
        poller.result(WAIT_SECONDS)
        return poller.done()

    def deallocate(self, vm: Agent) -> bool:
        poller = self._client(vm.subscription).virtual_machines.begin_deallocate(vm.group, vm.name)
        poller.result(WAIT_SECONDS)
        return poller.done()


def first_line(err: BaseException) -> str:
    """azure-core's messages repeat the code and message on further lines: the first says it."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def bring(power: Power, vm: Agent, want: str | None, report: Callable[[str], None]) -> Outcome:
    """Reads `vm`'s power state and, unless it is `want` already (or want is None), starts
    (`running`) or deallocates it and reads the state again."""
    try:
        state = power.state(vm)
        if want is None or state == want:
            return Outcome(vm, state, acted=False)
        verb = "start" if want == RUNNING else "deallocation"
        report(f"{state}, {verb}")
        done = (power.start if want == RUNNING else power.deallocate)(vm)
        state = power.state(vm)
    except (AzureError, azure_login.AzureLoginError) as err:  # a token renewed mid-way can fail too
        return Outcome(vm, "unknown", acted=False, error=first_line(err))
    if not done:
        return Outcome(vm, state, acted=True, error=f"{state}: ARM's {verb} not done after {WAIT_SECONDS // 60} min")
    if state != want:
        return Outcome(vm, state, acted=True, error=f"ARM's {verb} succeeded, yet the VM is {state}")
    return Outcome(vm, state, acted=True)


def bring_all(power: Power, vms: Sequence[Agent], want: str | None, what: str) -> list[Outcome]:
    """`bring` for every VM in parallel, a line of progress each on stderr; outcomes in order."""
    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, ThreadPoolExecutor(PARALLEL) as pool:

        def one(vm: Agent) -> Outcome:
            task = progress.add_task(f"{vm.name}: {what}", total=1)

            def report(text: str) -> None:
                progress.update(task, description=f"{vm.name}: {text}")

            outcome = bring(power, vm, want, report)
            report(f"failed: {outcome.error}" if outcome.error else outcome.state)
            progress.update(task, completed=1)
            return outcome

        return list(pool.map(one, vms))
