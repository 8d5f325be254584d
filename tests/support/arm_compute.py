"""Azure Resource Manager's virtual-machine power endpoints on https://127.0.0.1, as documented:
the instance view, and `start` and `deallocate` answering 202 with an Azure-AsyncOperation and a
Location to poll; and a registry's regenerateCredential, answering the new credentials at once.
HTTPS because azure-core sends a bearer token over TLS only: the certificate for 127.0.0.1 is
azure_stand_in's, and a client trusts its CA through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from tests.support.azure_stand_in import make_tls_files, serving_tls
from tests.support.http_stand_in import JsonHandler

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TOKEN = "stand-in-token"
VM_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Compute"
    r"/virtualMachines/(?P<vm>[^/?]+)(?P<action>/instanceView|/start|/deallocate)\?"
)
OPERATION_PATH = re.compile(
    r"^/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/[^/]+/operations/(?P<id>\d+)"
)
REGISTRY_PATH = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry"
    r"/registries/(?P<registry>[^/?]+)/regenerateCredential\?"
)
# After the action, the state the VM passes through and the one it ends in.
TRANSITIONS = {"start": ("starting", "running"), "deallocate": ("deallocating", "deallocated")}


def resource_id(vm: str, group: str = "rg-gdbc-dev") -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{vm}"


@dataclass
class Operation:
    vm: str
    action: str
    polls_left: int
    error: dict[str, str] | None


@dataclass
class Compute:
    """The VMs' power states (by VM name), the actions that fail (VM name: ARM error), and every
    action taken, appended as one line to `journal` (a file other processes append to as well)."""

    states: dict[str, str]
    journal: Path
    failures: dict[str, dict[str, str]] = field(default_factory=dict)
    polls: int = 1  # how often an operation answers InProgress before it ends
    operations: dict[str, Operation] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Registries (by name) and how often each password was regenerated.
    registries: dict[str, dict[str, int]] = field(default_factory=dict)

    def regenerate(self, registry: str, password: str) -> dict[str, Any]:
        """ACR's regenerateCredential: a synchronous POST that answers the new credentials."""
        with self.lock:
            counts = self.registries[registry]
            counts[password] = counts.get(password, 0) + 1
            answer = {
                "username": registry,
                "passwords": [
                    {"name": n, "value": f"{registry}-{n}-{counts.get(n, 0)}"} for n in ("password", "password2")
                ],
            }
        with self.journal.open("a", encoding="utf-8") as log:
            log.write(f"arm regenerateCredential {registry} {password}\n")
        return answer

    def act(self, vm: str, action: str) -> str:
        with self.lock:
            op_id = str(len(self.operations) + 1)
            self.operations[op_id] = Operation(vm, action, self.polls, self.failures.get(vm))
            self.states[vm] = TRANSITIONS[action][0]
        with self.journal.open("a", encoding="utf-8") as log:
            log.write(f"arm {action} {vm}\n")
        return op_id

    def poll(self, op_id: str) -> dict[str, Any]:
        with self.lock:
            op = self.operations[op_id]
            if op.polls_left > 0:
                op.polls_left -= 1
                return {"name": op_id, "status": "InProgress"}
            if op.error is not None:
                self.states[op.vm] = "deallocated" if op.action == "start" else "running"
                return {"name": op_id, "status": "Failed", "error": op.error}
            self.states[op.vm] = TRANSITIONS[op.action][1]
            return {"name": op_id, "status": "Succeeded"}


class _Handler(JsonHandler):
    compute: Compute

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self.send_json({"error": {"code": "AuthenticationFailed", "message": "no valid bearer token"}}, 401)
        return False

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        if not self._authorized():
            return
        if found := OPERATION_PATH.match(self.path):
            answer = self.compute.poll(found["id"])
            if "monitor=true" in self.path:  # the Location: 202 until done, then the (empty) result
                self._send_operation({}, 202 if answer["status"] == "InProgress" else 200)
            else:
                self._send_operation(answer, 200)
            return
        found = VM_PATH.match(self.path)
        if not found or found["action"] != "/instanceView":
            self.send_json({"error": {"code": "NotFound", "message": self.path}}, 404)
        elif found["vm"] not in self.compute.states:
            message = f"The Resource 'Microsoft.Compute/virtualMachines/{found['vm']}' was not found."
            self.send_json({"error": {"code": "ResourceNotFound", "message": message}}, 404)
        else:
            self.send_json(_instance_view(self.compute.states[found["vm"]]))

    def _send_operation(self, body: dict[str, Any], status: int) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Retry-After", "1")  # seconds, as ARM says how long to wait between polls
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if (registry := REGISTRY_PATH.match(self.path)) and registry["registry"] in self.compute.registries:
            self.send_json(self.compute.regenerate(registry["registry"], str(body.get("name"))))
            return
        found = VM_PATH.match(self.path)
        if not found or found["action"] == "/instanceView" or found["vm"] not in self.compute.states:
            self.send_json({"error": {"code": "NotFound", "message": self.path}}, 404)
            return
        op_id = self.compute.act(found["vm"], found["action"].lstrip("/"))
        status = f"https://{self.headers['Host']}/subscriptions/{found['sub']}/providers/Microsoft.Compute"
        status += f"/locations/westeurope/operations/{op_id}?p=x&api-version=2025-04-01"
        self.send_response(202)
        self.send_header("Azure-AsyncOperation", status)
        self.send_header("Location", f"{status}&monitor=true")
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()


def _instance_view(power: str) -> dict[str, Any]:
    return {
        "computerName": "agent",
        "osName": "Windows Server 2022 Datacenter",
        "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"},
        ],
    }


class StaticToken:
    """The stand-in's token, as a credential: no login service is involved."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


@contextmanager
def serving(compute: Compute, folder: Path) -> Iterator[tuple[str, Path]]:
    """ARM's compute endpoints for `compute` on a free port; yields the base URL and the CA
    certificate a client trusts."""
    tls = make_tls_files(folder)
    with serving_tls(type("ArmComputeHandler", (_Handler,), {"compute": compute}), tls) as base:
        yield base, tls.ca


def journal_lines(path: Path) -> list[str]:
    """The journal's entries in the order they happened (each is appended as it happens)."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
