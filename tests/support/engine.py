"""The real Pulumi CLI on a temporary copy of the project, hermetic and offline.

What it sets up (pulumi-engine.md in the shared reference, and the CLI's source):
- the CLI and its Python language host from scripts/build-pulumi, first on PATH;
- its own PULUMI_HOME (plugins, credentials), a file:// backend and a passphrase, and no
  automatic plugin downloads: nothing reads the user's ~/.pulumi or waits on the network;
- a copy of the project's tracked files, with `.venv` linked to the project's venv (where
  requirements.txt installed this project), as CI and a user have it;
- the stand-in provider (tests/support/standin_provider.py) installed as the plugins
  azure-native, random and azuredevops at exactly the versions the installed SDKs declare in
  their pulumi-plugin.json, with `pulumi plugin install resource NAME VERSION --file`;
- the real pulumi-resource-kubernetes (scripts/build-kube) installed the same way, and for each
  stack the workspace deploys, a real Kubernetes control plane (tests/support/kube.py) whose
  admin kubeconfig the stand-in's listClusterAdminCredentials returns.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from components import naming
from infra.config import load_stack
from offline.mocks import SECRET_MARK
from tests.support.builds import built_by
from tests.support.kube import Cluster, environment_for, kube_bin, start_cluster
from tests.support.local_registry import LocalRegistry, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "engine-tests-passphrase"
REPOSITORY = "mvcmusicstore"
STAND_IN_PACKAGES = {
    "azure-native": "pulumi_azure_native",
    "random": "pulumi_random",
    "azuredevops": "pulumi_azuredevops",
}


@functools.cache
def cli_bin() -> Path:
    """The folder with `pulumi` and its Python host (built once, then cached by go.sum)."""
    return built_by("build-pulumi")


def plugin_version(module: str) -> str:
    """The plugin version an installed Pulumi SDK package asks the engine for."""
    for file in metadata.files(module.replace("_", "-")) or []:
        if file.name == "pulumi-plugin.json":
            return str(json.loads(Path(str(file.locate())).read_text())["version"])
    raise RuntimeError(f"{module} ships no pulumi-plugin.json")


def project_files(root: Path = ROOT) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if (root / name).is_file()]


@dataclass
class Workspace:
    """One hermetic Pulumi home, backend and project copy under `base`."""

    base: Path
    bin: Path
    env: dict[str, str] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)  # by stack

    @property
    def project(self) -> Path:
        return self.base / "project"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def cloud(self) -> Path:
        return self.base / "cloud"

    @classmethod
    def create(
        cls, base: Path, bin_dir: Path, *, backend: str | None = None, clusters: tuple[str, ...] = ()
    ) -> Workspace:
        """The workspace, with a running Kubernetes control plane for each stack of `clusters`
        (more start when a command names another stack)."""
        ws = cls(base=base, bin=bin_dir)
        ws.state.mkdir(parents=True, exist_ok=True)
        for name in project_files():
            target = ws.project / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
        (ws.project / ".venv").symlink_to(Path(sys.prefix))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "MUSICSTORE_STANDIN_"))}
        env.update(
            PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            PULUMI_HOME=str(base / "home"),
            PULUMI_BACKEND_URL=backend or ws.state.as_uri(),
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_SKIP_CONFIRMATIONS="true",
            PULUMI_COLOR="never",
            MUSICSTORE_STANDIN_CLOUD=str(ws.cloud),
        )
        ws.env = env
        ws.install_stand_ins()
        for stack in clusters:
            ws.cluster(stack)
        return ws

    def install_stand_ins(self) -> None:
        launchers = self.base / "launchers"
        launchers.mkdir(exist_ok=True)
        provider = self.project / "tests" / "support" / "standin_provider.py"
        for package, module in STAND_IN_PACKAGES.items():
            version = plugin_version(module)
            launcher = launchers / f"pulumi-resource-{package}"
            launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{provider}" {package} {version} "$@"\n')
            launcher.chmod(0o755)
            self.pulumi("plugin", "install", "resource", package, version, "--file", str(launcher))
        real = kube_bin() / "pulumi-resource-kubernetes"
        self.pulumi(
            "plugin", "install", "resource", "kubernetes", plugin_version("pulumi_kubernetes"), "--file", str(real)
        )

    def cluster(self, stack: str) -> Cluster:
        """The stack's AKS cluster as a real control plane, started on first use."""
        if stack not in self.clusters:
            cfg = load_stack(stack, root=self.project, deploying=False)
            name = naming.cluster_name(cfg.name_prefix, cfg.environment)
            self.clusters[stack] = start_cluster(name, self.base / "kube" / stack, self.cloud, cfg.service_cidr)
            self.env.update(environment_for({c.name: c for c in self.clusters.values()}))
        return self.clusters[stack]

    def close(self) -> None:
        """Stops the workspace's control planes (its state and files stay for a look after)."""
        for cluster in self.clusters.values():
            cluster.stop()

    def pulumi(
        self, *args: str, stack: str | None = None, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        if stack and (self.project / f"Pulumi.{stack}.yaml").exists():
            self.cluster(stack)
        command = ["pulumi", *args, *(["--stack", stack] if stack else [])]
        done = subprocess.run(
            command,
            cwd=self.project,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done

    def resources(self, stack: str) -> list[dict[str, Any]]:
        """The resources of the stack's state, as `pulumi stack export` writes them."""
        exported = json.loads(self.pulumi("stack", "export", stack=stack).stdout)
        return list(exported.get("deployment", {}).get("resources") or [])

    def cloud_objects(self, stack: str) -> list[dict[str, Any]]:
        """What the stand-in's cloud holds for the stack."""
        records = [json.loads(p.read_text()) for p in self.cloud.glob("*.json")]
        return [r for r in records if r.get("stack") == stack]

    def init(self, stack: str, secrets: dict[str, str], values: dict[str, str] | None = None) -> None:
        """`pulumi stack init` and the config the README has a user set before `pulumi up`."""
        self.pulumi("stack", "init", stack)
        for key, value in secrets.items():
            self.pulumi("config", "set", "--secret", key, value, stack=stack)
        for key, value in (values or {}).items():
            self.pulumi("config", "set", key, value, stack=stack)


def readme_blocks(section: str, readme: Path = ROOT / "README.md") -> list[str]:
    """The bash blocks of one README section (from its heading to the next heading)."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(f"\n{section}\n")
    end = text.find("\n#", start + len(section) + 2)
    body = text[start : end if end != -1 else len(text)]
    return [block.split("\n", 1)[1].split("```", 1)[0] for block in body.split("```bash")[1:]]


AZURITE = ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
QUIET = ("--disableTelemetry", "--skipApiVersionCheck")  # offline: no telemetry, any client API version


@contextmanager
def azurite_blob(account: str, key: str) -> Iterator[dict[str, str]]:
    """A local Azurite Blob service (what `scripts/bootstrap --tests` installs) for `account`;
    yields the variables with which gocloud's azureblob opener, hence `pulumi login azblob://`,
    reaches it instead of Azure (gocloud.dev/blob/azureblob: AZURE_STORAGE_*)."""
    port = free_port()
    process = subprocess.Popen(
        [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence", *QUIET],
        env={**os.environ, "AZURITE_ACCOUNTS": f"{account}:{key}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "successfully listens" in line:
                break
        else:
            raise RuntimeError("azurite-blob did not start")
        # Keep reading what it prints: node writes to a pipe synchronously, and a full pipe would
        # stop the service mid-test (and its exit on SIGTERM).
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield {
            "AZURE_STORAGE_ACCOUNT": account,
            "AZURE_STORAGE_KEY": key,
            "AZURE_STORAGE_DOMAIN": f"127.0.0.1:{port}",
            "AZURE_STORAGE_PROTOCOL": "http",
            "AZURE_STORAGE_IS_LOCAL_EMULATOR": "true",
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def secret_value(stack: str, key: str) -> str:
    """A recognisable value for a required secret, so the state scan can look for it."""
    return f"{SECRET_MARK}{stack}-{key}-set-by-the-test"


def managed(resources: list[dict[str, Any]]) -> Counter[str]:
    """Types and counts of what the program declares: without the stack and default providers."""
    return Counter(
        r["type"]
        for r in resources
        if r["type"] != "pulumi:pulumi:Stack" and not r["urn"].rsplit("::", 1)[-1].startswith("default")
    )


def local_registries(dev: LocalRegistry, prod: LocalRegistry) -> str:
    """MUSICSTORE_STANDIN_REGISTRIES: team1's registries of dev and prod are the local servers."""
    return json.dumps(
        {
            f"{stack}/team1": {"server": r.server, "username": r.username, "password": r.password}
            for stack, r in (("dev", dev), ("prod", prod))
        }
    )
