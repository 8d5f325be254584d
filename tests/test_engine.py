"""Every stack under the real Pulumi CLI: previewed, deployed, deployed again with no change,
refreshed and torn down, offline. The engine, the dynamic-provider launcher and the executor
script, the secrets and the YAML reader are the CLI's own, built from pinned modules. Two things
stand in: the providers that need Azure (tests/support/standin_provider.py), and the Python
language host, whose own Go module the proxy refuses: tools/pulumi/pulumi-language-python wires
the same sdk/v3 packages (venv resolution, executor, policy proxy) as Pulumi's host. The dev and
prod registries are local `docker-registry` servers, so prod's image promotion really copies by
digest in the process the CLI's launcher starts.

Run apart with `pytest -m engine`; left out with `-m "not engine"`."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra import stack_files
from infra.config import load_stack, offline_files
from offline.mocks import SECRET_MARK
from offline.plan import Plan
from promotion.registry_client import RegistryClient
from tests.support.engine import REPOSITORY, Workspace, local_registries, managed, secret_value
from tests.support.local_registry import LocalRegistry

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine")]

# Prod reads dev's outputs, so dev goes first; every other stack file is found, not listed.
STACKS = sorted(stack_files.stacks(), key=lambda s: (s != "dev", load_stack(s).promote_from_stack is not None, s))


@dataclass
class Deployed:
    preview: subprocess.CompletedProcess[str]
    up: subprocess.CompletedProcess[str]
    second_up: subprocess.CompletedProcess[str]
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]
    secrets: list[str]


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory, engine_bin: Path) -> Workspace:
    return Workspace.create(tmp_path_factory.mktemp("engine"), engine_bin)


@pytest.fixture(scope="session")
def deployed(workspace: Workspace, registries: tuple[LocalRegistry, LocalRegistry, str]) -> dict[str, Deployed]:
    dev, prod, digest = registries
    workspace.env["MUSICSTORE_STANDIN_REGISTRIES"] = local_registries(dev, prod)
    done: dict[str, Deployed] = {}
    for stack in STACKS:
        secrets = {key.split(":", 1)[1]: secret_value(stack, key) for key in offline_files(stack).placeholders}
        # The release pipeline sets the digest it built and tested; here, the image pushed to dev.
        values = {"promoteDigest": digest} if load_stack(stack).promote_from_stack else {}
        if load_stack(stack).expires_at:
            # The organizer sets the end of the coming session: `pulumi up` refuses a past one,
            # and the committed date ages while the clock does not.
            values["expiresAt"] = stamp(datetime.now(UTC) + timedelta(days=30))
        workspace.init(stack, secrets, values)
        preview = workspace.pulumi("preview", "--json", stack=stack, check=False)
        up = workspace.pulumi("up", "--yes", stack=stack, check=False)
        second = workspace.pulumi("up", "--yes", "--expect-no-changes", stack=stack, check=False)
        done[stack] = Deployed(
            preview=preview,
            up=up,
            second_up=second,
            resources=workspace.resources(stack),
            outputs=json.loads(workspace.pulumi("stack", "output", "--json", "--show-secrets", stack=stack).stdout),
            secrets=list(secrets.values()),
        )
    return done


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def planned(plan: Plan) -> Counter[str]:
    return Counter(r.type for r in plan.recording.resources.values())


@pytest.mark.parametrize("stack", STACKS)
def test_preview_up_and_a_second_up_that_changes_nothing(stack: str, deployed: dict[str, Deployed]) -> None:
    run = deployed[stack]
    assert run.preview.returncode == 0, run.preview.stderr[-3000:] + run.preview.stdout[-3000:]
    assert run.up.returncode == 0, run.up.stderr[-3000:] + run.up.stdout[-3000:]
    assert run.second_up.returncode == 0, run.second_up.stdout[-3000:]
    # The summary's only line: every resource and the stack itself unchanged (default providers uncounted).
    # A StackReference is read, not updated, and is not counted there (pulumi-engine.md).
    summary = run.second_up.stdout.rsplit("Resources:", 1)[1].split("Duration:")[0].split()
    counted = managed(run.resources) - Counter({"pulumi:pulumi:StackReference": 1})
    assert summary == [str(sum(counted.values()) + 1), "unchanged"]


@pytest.mark.parametrize("stack", STACKS)
def test_up_creates_what_the_offline_plan_lists(
    stack: str, deployed: dict[str, Deployed], stack_plans: dict[str, Plan]
) -> None:
    assert managed(deployed[stack].resources) == planned(stack_plans[stack])


@pytest.mark.parametrize("stack", STACKS)
def test_the_real_preview_lists_what_the_offline_plan_lists(
    stack: str, deployed: dict[str, Deployed], stack_plans: dict[str, Plan]
) -> None:
    steps = json.loads(deployed[stack].preview.stdout)["steps"]
    # A StackReference is a read step; everything else a new stack makes, a create.
    previewed = [{"type": s["newState"]["type"], "urn": s["urn"]} for s in steps if s["op"] in ("create", "read")]
    assert managed(previewed) == planned(stack_plans[stack])


def test_prod_promotes_the_digest_it_was_given_between_the_local_registries(
    deployed: dict[str, Deployed], registries: tuple[LocalRegistry, LocalRegistry, str]
) -> None:
    _, prod, digest = registries
    team = deployed["prod"].outputs["teams"]["team1"]
    assert team["registryLoginServer"] == prod.server
    assert team["image"] == f"{prod.server}/{REPOSITORY}@{digest}"
    promotion = next(r for r in deployed["prod"].resources if r["type"] == "pulumi-python:dynamic:Resource")
    assert promotion["outputs"]["method"] == "oci-copy"
    client = RegistryClient(prod.server, prod.username, prod.password)
    assert client.manifest_digest(REPOSITORY, digest) == digest


def test_prod_reads_devs_real_outputs_through_its_stack_reference(deployed: dict[str, Deployed]) -> None:
    source = deployed["prod"].outputs["promotionSource"]
    assert source["stack"].endswith("dev")
    assert source["registryLoginServers"] == deployed["dev"].outputs["registryLoginServers"]


def readable(text: str) -> str:
    """The text and every base64 run in it decoded (a kubeconfig, a script's settings)."""
    decoded = []
    for run in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except ValueError:
            continue
    return "\n".join([text, *decoded])


def test_the_state_holds_no_secret_in_clear(
    deployed: dict[str, Deployed], workspace: Workspace, registries: tuple[LocalRegistry, LocalRegistry, str]
) -> None:
    # Every file of the backend: stacks, backups and history (pulumi-engine.md: annotateSecrets),
    # in clear or base64-encoded: generated values, the secrets set, the registries' passwords.
    needles = {SECRET_MARK, registries[0].password, registries[1].password}
    needles |= {s for run in deployed.values() for s in run.secrets}
    files = [p for p in workspace.state.rglob("*") if p.is_file()]
    assert len(files) > 3
    leaks = [
        f"{path.relative_to(workspace.state)}: {needle}"
        for path in files
        for text in [readable(path.read_text(errors="replace"))]
        for needle in needles
        if needle in text
    ]
    assert leaks == []


def test_the_outputs_with_secrets_shown_are_what_the_handout_reads(
    deployed: dict[str, Deployed], workspace: Workspace, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(deployed["dev"].outputs))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.handout",
            "dev",
            "--outputs",
            str(outputs),
            "--out",
            str(tmp_path / "out"),
            "--show-passwords",
        ],
        cwd=workspace.project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sheet = (tmp_path / "out" / "dev" / "team1.md").read_text()
    assert deployed["dev"].outputs["teams"]["team1"]["registryAdminPassword"] in sheet


def test_the_policy_pack_fails_an_up_and_a_preview_that_break_a_rule(
    tmp_path_factory: pytest.TempPathFactory, engine_bin: Path
) -> None:
    """Prod without promotion runs its image by tag. In the first preview of a new stack the
    image is not known yet (it names the registry's login server), and the pack downgrades a
    rule that reads an unknown value ("can't run during preview", pulumi_policy/policy.py);
    `up` knows it, and so does every preview once the registry exists."""
    ws = Workspace.create(tmp_path_factory.mktemp("policy"), engine_bin)
    ws.init("prod", {"databaseConnectionString": secret_value("prod", "db")})
    for key in ("promoteFromStack", "promoteTag"):
        ws.pulumi("config", "rm", key, stack="prod")
    refused = ws.pulumi("up", "--yes", "--policy-pack", "policy", stack="prod", check=False)
    assert refused.returncode != 0
    assert "prod-images-by-digest" in refused.stdout + refused.stderr
    ws.pulumi("up", "--yes", stack="prod")  # as if the pack had not been asked for
    broken = ws.pulumi("preview", "--policy-pack", "policy", stack="prod", check=False)
    assert broken.returncode != 0
    assert "prod-images-by-digest" in broken.stdout + broken.stderr


def test_a_stack_that_keeps_the_rules_passes_the_policy_pack(
    workspace: Workspace, deployed: dict[str, Deployed]
) -> None:
    kept = workspace.pulumi("preview", "--policy-pack", "policy", stack="dev", check=False)
    assert kept.returncode == 0, kept.stdout[-3000:] + kept.stderr[-3000:]
    assert "musicstore-guardrails" in kept.stdout


def test_refresh_keeps_every_object(workspace: Workspace, deployed: dict[str, Deployed]) -> None:
    workspace.pulumi("refresh", "--yes", stack="dev")
    assert managed(workspace.resources("dev")) == managed(deployed["dev"].resources)


def test_a_refresh_while_the_cluster_is_unreachable_drops_no_kubernetes_object(
    workspace: Workspace, deployed: dict[str, Deployed]
) -> None:
    refresh = workspace.pulumi(
        "refresh", "--yes", stack="dev", check=False, env={"MUSICSTORE_STANDIN_UNREACHABLE": "kubernetes"}
    )
    # Without deleteUnreachable the provider fails the refresh instead of reporting objects gone.
    assert refresh.returncode != 0 and "unreachable" in refresh.stdout + refresh.stderr
    assert managed(workspace.resources("dev")) == managed(deployed["dev"].resources)


def test_destroy_is_refused_for_prods_protected_resources(workspace: Workspace, deployed: dict[str, Deployed]) -> None:
    refused = workspace.pulumi("destroy", "--yes", stack="prod", check=False)
    assert refused.returncode != 0
    assert "protected" in refused.stdout + refused.stderr
    assert managed(workspace.resources("prod")) == managed(deployed["prod"].resources)


def test_pulumi_destroy_empties_a_stack(workspace: Workspace, deployed: dict[str, Deployed]) -> None:
    venue = next(s for s in STACKS if s.startswith("venue-"))
    # Past its expiresAt the program refuses a preview (or an up) in one line; destroy does not
    # run the program, so the teardown of an expired venue goes on.
    passed = stamp(datetime.now(UTC) - timedelta(hours=1))
    workspace.pulumi("config", "set", "expiresAt", passed, stack=venue)
    refused = workspace.pulumi("preview", stack=venue, check=False)
    assert refused.returncode != 0
    assert f'config musicstore:expiresAt = "{passed}": has passed' in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    workspace.pulumi("destroy", "--yes", stack=venue)
    assert managed(workspace.resources(venue)) == Counter()
    assert workspace.cloud_objects(venue) == []


def test_the_teardown_command_empties_a_stack_through_the_automation_api_even_with_the_cluster_gone(
    workspace: Workspace, deployed: dict[str, Deployed]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "teardown", "dev", "--confirm", "destroy dev"],
        cwd=workspace.project,
        env={**workspace.env, "MUSICSTORE_STANDIN_UNREACHABLE": "kubernetes"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "dev" not in workspace.pulumi("stack", "ls", "--json").stdout
    left = workspace.cloud_objects("dev")
    # Azure's objects are gone; the Kubernetes objects could not be reached, so they were only
    # dropped from the state (their cluster went with the resource group).
    assert [o for o in left if not o["type"].startswith("kubernetes:")] == []
    assert {o["type"] for o in left} >= {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Namespace"}
    assert os.path.exists(workspace.project / "Pulumi.dev.yaml")
