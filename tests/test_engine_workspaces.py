"""The real Pulumi CLI on workspaces of their own: the README's deployment commands as written
(local file state; Azure Blob state against a local Azurite), and the changes and faults that must
not touch the shared deployment of tests/test_engine.py (a failed create, a replacement, the secrets
CI sets). Run apart with `pytest -m engine`."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from tests.support import kube
from tests.support.engine import (
    Workspace,
    azurite_blob,
    local_registries,
    managed,
    readme_blocks,
    secret_value,
)
from tests.support.local_registry import LocalRegistry, free_port

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine-workspaces")]


# A user at a terminal types one line at each prompt, and nothing reaches a command that does
# not prompt. Piped, standard input would not behave so: `pulumi config set` reads it to EOF
# when it is not a terminal (pulumi/pkg/cmd/pulumi/config/config.go), and `pulumi stack init`
# takes from it too (seen with v3.274.1). So the script gets no standard input, and this
# stand-in for the typing hand answers each `config set --secret KEY` prompt with the next line.
TYPIST = """#!/usr/bin/env bash
if [ "$1 $2" = "config set" ] && [ "${*: -2:1}" = "--secret" ]; then
  line=$(head -n 1 "$TYPED_LINES")
  tail -n +2 "$TYPED_LINES" > "$TYPED_LINES.rest" && mv "$TYPED_LINES.rest" "$TYPED_LINES"
  printf '%s' "$line" | "$REAL_PULUMI" "$@"
  exit
fi
exec "$REAL_PULUMI" "$@"
"""


def as_typed(script: str, ws: Workspace, env: dict[str, str]) -> None:
    """README commands in one shell, as a user types them; each prompt for a secret (the agents'
    PAT, then the admin PAT) answered with its line, in the README's order."""
    hand = ws.base / "typist"
    hand.mkdir(exist_ok=True)
    (hand / "pulumi").write_text(TYPIST)
    (hand / "pulumi").chmod(0o755)
    typed = hand / "lines"
    typed.write_text(secret_value("dev", "azdoPat") + "\n" + secret_value("dev", "azdoAdminPat") + "\n")
    real = shutil.which("pulumi", path=env["PATH"])
    assert real, "the CLI is on the workspace's PATH"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ws.project,
        env={**env, "PATH": f"{hand}{os.pathsep}{env['PATH']}", "REAL_PULUMI": real, "TYPED_LINES": str(typed)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert typed.read_text() == "", "every line typed was asked for"


def test_the_readmes_default_deployment_runs_as_written(
    new_workspace: Callable[..., Workspace], registries: tuple[LocalRegistry, LocalRegistry, str]
) -> None:
    """The commands of the README's "Default" section, in one shell as a user types them; the
    only answers given are the PAT at the prompt and the values the section names."""
    dev, prod, digest = registries
    ws = new_workspace("readme", clusters=("dev", "prod"))
    home = ws.base / "user-home"
    home.mkdir()
    env = {k: v for k, v in ws.env.items() if k not in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")}
    env.update(
        HOME=str(home),
        DATABASE_CONNECTION_STRING=secret_value("prod", "db"),
        PROMOTE_DIGEST=digest,
        MUSICSTORE_STANDIN_REGISTRIES=local_registries(dev, prod),
    )
    script = "\n".join(readme_blocks("### Default: local state, passphrase secrets"))
    as_typed(script, ws, env)
    stacks = sorted(p.name for p in (home / ".pulumi-state" / ".pulumi" / "stacks" / "musicstore").glob("*.json"))
    assert stacks == ["dev.json", "prod.json"]


def test_the_readmes_team_option_keeps_the_state_in_azure_blob(
    new_workspace: Callable[..., Workspace],
) -> None:
    """The README's "Teams" commands against a local Azurite Blob service. Key Vault has no
    emulator here, so the stack's secrets provider is the passphrase instead of azurekeyvault://."""
    block = readme_blocks("### Teams: Azure Blob state, Key Vault secrets")[0]
    found = re.search(r"AZURE_STORAGE_ACCOUNT=(\S+)", block)
    assert found, "the Teams section names its storage account"
    account, key = found.group(1), base64.b64encode(b"engine-tests-azurite-account-key").decode()
    script = re.sub(r"--secrets-provider \"azurekeyvault://[^\"]+\"", "--secrets-provider passphrase", block)
    assert script != block
    ws = new_workspace("azblob", clusters=("dev",))
    with azurite_blob(account, key) as storage:
        service = BlobServiceClient(
            account_url=f"http://{storage['AZURE_STORAGE_DOMAIN']}/{account}",
            credential={"account_name": account, "account_key": key},
        )
        container = re.search(r"azblob://([a-z0-9-]+)", block)
        assert container
        service.create_container(container.group(1))
        env = {k: v for k, v in ws.env.items() if k != "PULUMI_BACKEND_URL"} | storage
        as_typed(script, ws, env)
        names = [b.name for b in service.get_container_client(container.group(1)).list_blobs()]
    assert ".pulumi/stacks/musicstore/dev.json" in names


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory, engine_bin: Path) -> Iterator[Workspace]:
    """A dev stack of its own, for changes and faults that must not touch the others."""
    ws = Workspace.create(tmp_path_factory.mktemp("scratch"), engine_bin)
    ws.init("dev", {})
    # As CI does: the secret from the store's variable, set through the CLI on stdin.
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "secrets", "dev"],
        cwd=ws.project,
        env={
            **ws.env,
            "SECRET_AZDOPAT": secret_value("dev", "azdoPat"),
            "SECRET_AZDOADMINPAT": secret_value("dev", "azdoAdminPat"),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield ws
    ws.close()


def test_musicstore_secrets_sets_the_required_secret_as_the_cli_encrypts_it(scratch: Workspace) -> None:
    stack_file = (scratch.project / "Pulumi.dev.yaml").read_text()
    assert "musicstore:azdoPat:\n    secure: v1:" in stack_file
    assert secret_value("dev", "azdoPat") not in stack_file
    shown = scratch.pulumi("config", "get", "azdoPat", stack="dev").stdout.strip()
    assert shown == secret_value("dev", "azdoPat")


def test_a_failed_create_stops_the_up_naming_the_resource_and_a_second_up_completes_it(scratch: Workspace) -> None:
    failed = scratch.pulumi("up", "--yes", stack="dev", check=False, env={"MUSICSTORE_STANDIN_FAIL": "team1-registry"})
    assert failed.returncode != 0
    assert "team1-registry" in failed.stdout and "409 Conflict" in failed.stdout
    kept = managed(scratch.resources("dev"))
    assert kept["azure-native:resources:ResourceGroup"] == 1  # what was made before the fault stays
    scratch.pulumi("up", "--yes", stack="dev")
    assert scratch.pulumi("preview", "--expect-no-changes", stack="dev", check=False).returncode == 0


def test_a_windows_pool_size_change_replaces_the_pool_and_nothing_else(scratch: Workspace) -> None:
    pools = '{"win22": {"vmSize": "Standard_D8s_v5", "count": 1, "osSku": "Windows2022"}}'
    scratch.pulumi("config", "set", "windowsPools", pools, stack="dev")
    steps = json.loads(scratch.pulumi("preview", "--json", stack="dev").stdout)["steps"]
    changed = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in steps if s["op"] != "same"}
    assert ("replace", "aks-win22") in changed or ("create-replacement", "aks-win22") in changed
    assert {name for _, name in changed} == {"aks-win22"}


def test_after_a_refresh_a_removed_pool_never_blocks_a_cluster_change(scratch: Workspace) -> None:
    # pulumi-azure-native#2719: a refresh writes every pool AKS reports into the cluster's inputs;
    # an `ignore_changes` on them would re-send a pool that is gone, and AKS refuses the update.
    scratch.pulumi("up", "--yes", stack="dev")
    scratch.pulumi("refresh", "--yes", stack="dev")
    renamed = '{"win22b": {"vmSize": "Standard_D8s_v5", "count": 1, "osSku": "Windows2022"}}'
    scratch.pulumi("config", "set", "windowsPools", renamed, stack="dev")
    scratch.pulumi("up", "--yes", stack="dev")  # win22 deleted by the agent pool API, win22b made
    scratch.pulumi("config", "set", "clusterSkuTier", "Standard", stack="dev")
    changed = scratch.pulumi("up", "--yes", stack="dev", check=False)
    assert changed.returncode == 0, changed.stdout[-2000:]
    assert "A new agent pool was introduced" not in changed.stdout
    # That update named the system pool only and answered every pool: a refresh now finds nothing new.
    scratch.pulumi("refresh", "--yes", stack="dev")
    assert scratch.pulumi("preview", "--expect-no-changes", stack="dev", check=False).returncode == 0


def test_a_control_plane_whose_ports_were_taken_meanwhile_starts_on_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """free_port's race: a port it found free is bound by another process before etcd or the
    API server binds it. Both start again on others, and the admin kubeconfig names the API
    server's new port."""
    with socket.socket() as etcds, socket.socket() as apis:
        for held in (etcds, apis):
            held.bind(("127.0.0.1", 0))
            held.listen()
        etcd_port, api_port = etcds.getsockname()[1], apis.getsockname()[1]
        first = iter([etcd_port])  # the next port free_port finds is etcd's, already taken
        monkeypatch.setattr(kube, "free_port", lambda: next(first, None) or free_port())
        cluster = kube.Cluster(
            name="ports", base=tmp_path / "plane", bin=kube.kube_bin(), cloud=tmp_path / "cloud", port=api_port
        )
        try:
            cluster.start()
            assert cluster.port != api_port and cluster.etcd != f"http://127.0.0.1:{etcd_port}"
            assert f"127.0.0.1:{cluster.port}" in cluster.admin_kubeconfig.read_text()
            assert cluster.client().text("/readyz") == "ok"
            for name, port in (("etcd", etcd_port), ("kube-apiserver", api_port)):
                log = (tmp_path / "plane" / f"{name}.log").read_text()
                assert f"127.0.0.1:{port}: bind: address already in use" in log, log[-2000:]
        finally:
            cluster.stop()
