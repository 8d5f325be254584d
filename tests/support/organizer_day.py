"""An organizer's day, served from a separate process: the Azure DevOps REST endpoints the status
board reads (agent pools by name, a pool's agents with their current and last jobs, a project's
builds), and each team's app at /app/<team>/ answering as the config says (a status code, late,
or not at all in time).

    python -m tests.support.organizer_day --config day.json --port-file port

The config (JSON, read again on every request so that a test may change it between rounds):
    {"pat": "...",
     "pools": [TaskAgentPool + {"agents": [TaskAgent]}],     as the REST API answers them
     "projects": {"<name>": [Build]},
     "apps": {"<team>": {"status": 200, "delay": 0.0}}}
`agent`, `job` and `build` below make those shapes. The Azure DevOps paths want basic auth whose
password is the PAT (401 otherwise) and the api-version Microsoft's client library asks each route
with (400 otherwise, as the service answers a version it does not serve).
A ThreadingHTTPServer: a slow app delays no other answer.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.http_stand_in import JsonHandler

ROOT = Path(__file__).resolve().parents[2]
# azure-devops-python-api, azure/devops/v7_1: task_agent_client.py and build_client.py.
TASK_AGENT_API, BUILD_API = "7.1-preview.1", "7.1-preview.7"
POOLS = re.compile(r"^/_apis/distributedtask/pools$")
AGENTS = re.compile(r"^/_apis/distributedtask/pools/(?P<id>\d+)/agents$")
BUILDS = re.compile(r"^/(?P<project>[^/_][^/]*)/_apis/build/builds$")
APP = re.compile(r"^/app/(?P<team>[^/]+)/?$")


def job(owner: str, *, result: str | None = None, finish_time: str | None = None) -> dict[str, Any]:
    """A TaskAgentJobRequest: running while it has no result, else finished at `finish_time`."""
    request: dict[str, Any] = {
        "requestId": zlib.crc32(owner.encode()) % 100000,
        "queueTime": "2025-01-01T08:00:00.0000000Z",
        "assignTime": "2025-01-01T08:00:01.0000000Z",
        "planType": "Build",
        "jobName": "Build image",
        "owner": {"id": 1, "name": owner},
        "definition": {"id": 1, "name": "musicstore"},
    }
    if result is not None:
        request.update(result=result, finishTime=finish_time, receiveTime=request["assignTime"])
    return request


def agent(
    name: str, *, online: bool = True, running: dict[str, Any] | None = None, last: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A TaskAgent as Agents - List answers it with includeAssignedRequest and
    includeLastCompletedRequest."""
    found: dict[str, Any] = {
        "id": zlib.crc32(name.encode()) % 1000,
        "name": name,
        "version": "4.248.0",
        "osDescription": "Microsoft Windows 10.0.20348",
        "enabled": True,
        "status": "online" if online else "offline",
        "provisioningState": "Provisioned",
        "maxParallelism": 1,
    }
    if running is not None:
        found["assignedRequest"] = running
    if last is not None:
        found["lastCompletedRequest"] = last
    return found


def pool(pool_id: int, name: str, agents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": pool_id,
        "name": name,
        "isHosted": False,
        "poolType": "automation",
        "size": len(agents),
        "agents": agents,
    }


def build(
    number: str,
    status: str,
    *,
    result: str | None = None,
    finish_time: str | None = None,
    definition: int = 1,
    queued: str = "2025-01-01T08:00:00.0000000Z",
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """A Build as Builds - List answers it."""
    return {
        "tags": tags or [],
        "id": int(re.sub(r"\D", "", number) or 0) % 100000,
        "buildNumber": number,
        "status": status,
        "result": result,
        "queueTime": queued,
        "finishTime": finish_time,
        "sourceBranch": "refs/heads/develop",
        "definition": {"id": definition, "name": "musicstore" if definition == 1 else f"pipeline {definition}"},
    }


class Handler(JsonHandler):
    config_path: Path

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        config = json.loads(self.config_path.read_text(encoding="utf-8"))
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        path = unquote(url.path)
        if found := APP.match(path):
            self._app(config.get("apps", {}).get(found["team"]))
        elif not self._authorized(config["pat"]):
            self.send_json({"message": "TF400813: The user is not authorized to access this resource."}, 401)
        elif query.get("api-version") != (BUILD_API if BUILDS.match(path) else TASK_AGENT_API):
            message = f"The requested REST API version of {query.get('api-version')} is out of range for this server."
            self.send_json({"message": message, "typeKey": "VssVersionOutOfRangeException"}, 400)
        elif POOLS.match(path):
            wanted = query.get("poolName", "").casefold()
            pools = [_without(p, "agents") for p in config["pools"] if wanted in ("", p["name"].casefold())]
            self.send_json({"count": len(pools), "value": pools})
        elif found := AGENTS.match(path):
            self._agents(config, int(found["id"]), query)
        elif found := BUILDS.match(path):
            self._builds(config, found["project"], query)
        else:
            self.send_json({"message": f"no route for {path}"}, 404)

    def _authorized(self, pat: str) -> bool:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return password == pat

    def _agents(self, config: dict[str, Any], pool_id: int, query: dict[str, str]) -> None:
        found = next((p for p in config["pools"] if p["id"] == pool_id), None)
        if found is None:
            self.send_json({"message": f"Agent pool {pool_id} could not be found."}, 404)
            return
        dropped = [
            key
            for key, asked in (
                ("assignedRequest", "includeAssignedRequest"),
                ("lastCompletedRequest", "includeLastCompletedRequest"),
            )
            if query.get(asked) != "true"
        ]
        agents = [_without(a, *dropped) for a in found["agents"]]
        self.send_json({"count": len(agents), "value": agents})

    def _builds(self, config: dict[str, Any], project: str, query: dict[str, str]) -> None:
        if project not in config.get("projects", {}):
            message = f"TF200016: The following project does not exist: {project}."
            self.send_json({"message": message, "typeKey": "ProjectDoesNotExistWithNameException"}, 404)
            return
        builds = list(config["projects"][project])
        if "definitions" in query:  # a comma-separated list of definition ids
            wanted = {int(d) for d in query["definitions"].split(",")}
            builds = [b for b in builds if b["definition"]["id"] in wanted]
        if query.get("queryOrder") == "queueTimeDescending":
            builds.sort(key=lambda b: str(b.get("queueTime")), reverse=True)
        builds = builds[: int(query.get("$top", len(builds)))]
        self.send_json({"count": len(builds), "value": builds})

    def _app(self, behaviour: dict[str, Any] | None) -> None:
        if behaviour is None:
            self.send_json({"message": "no such app"}, 404)
            return
        time.sleep(float(behaviour.get("delay", 0)))
        body = b"<!doctype html><title>MVC Music Store</title>"
        with contextlib.suppress(OSError):  # the client gave up waiting: what a slow app is for
            self.send_response(int(behaviour.get("status", 200)))
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


def _without(item: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in keys}


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow answer still sleeping must not keep the process from ending
    # socketserver listens with a backlog of 5: a board's 60 requests at once would find the
    # queue full, and their connections would wait a second for the SYN to be sent again.
    request_queue_size = 128


def serve(config: Path, port_file: Path) -> None:
    server = Server(("127.0.0.1", 0), type("OrganizerDayHandler", (Handler,), {"config_path": config}))
    ready = port_file.with_suffix(".tmp")
    ready.write_text(str(server.server_port), encoding="utf-8")
    os.replace(ready, port_file)  # whoever waits for the file reads a whole port number
    server.serve_forever()


@contextmanager
def serving(config: dict[str, Any], folder: Path) -> Iterator[tuple[str, Path]]:
    """The day's server in its own process for the block; yields its base URL and the config
    file (rewrite it to change what the server answers)."""
    folder.mkdir(parents=True, exist_ok=True)
    config_path, port_file, log = folder / "day.json", folder / "port", folder / "organizer_day.log"
    write_config(config_path, config)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.organizer_day",
                "--config",
                str(config_path),
                "--port-file",
                str(port_file),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"organizer_day did not start: {log.read_text()[-500:]}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}", config_path
    finally:
        process.terminate()
        process.wait(timeout=10)


def write_config(path: Path, config: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(config), encoding="utf-8")
    os.replace(temporary, path)  # a request never reads half a config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    serve(args.config, args.port_file)


if __name__ == "__main__":
    main()
