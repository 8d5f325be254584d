"""Every stack under the real Pulumi CLI: previewed, deployed, deployed again with no change,
refreshed and torn down, offline. The engine, the dynamic-provider launcher and the executor
script, the secrets and the YAML reader are the CLI's own, built from pinned modules. Kubernetes
is real too: the pulumi-kubernetes provider applies every object to a Kubernetes 1.36 API server
per stack, with its controllers, scheduler and kwok's nodes (tests/support/kube.py). Two things
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
from collections.abc import Callable, Iterator
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
from tests.support.kube_client import KubeError
from tests.support.local_registry import LocalRegistry

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine")]

# Prod reads dev's outputs, so dev goes first; every other stack file is found, not listed.
STACKS = sorted(stack_files.stacks(), key=lambda s: (s != "dev", load_stack(s).promote_from_stack is not None, s))


def group(stack: str) -> str:
    """The xdist group, and the workspace, a stack is deployed in. Dev and the stacks that promote
    from it share one backend (prod's StackReference reads dev's outputs); each other stack (a
    venue) has a workspace of its own, so that another worker deploys it at the same time.
    xdist names a test's group by all its marks joined (xdist/remote.py): with the module's,
    a venue's tests are in "engine_engine-<venue>", apart from "engine" all the same."""
    return "engine" if stack == "dev" or load_stack(stack).promote_from_stack else f"engine-{stack}"


def per_stack(stacks: list[str] = STACKS) -> list[Any]:
    """The stacks as parameters, each test of a stack in that stack's group."""
    return [pytest.param(stack, marks=pytest.mark.xdist_group(group(stack))) for stack in stacks]


VENUE = next(s for s in STACKS if s.startswith("venue-"))

# A venue's CLI keeps its state in memory and writes it once, when the operation ends, rather
# than again at the start and end of every step: the SnapshotManager's unsafeServiceLoop under
# PULUMI_SKIP_CHECKPOINTS applies the same mutations and saves the same final snapshot, checked
# as every save is (pkg/backend/snapshot.go, v3.274.1; sdk/go/common/env/env.go: "Skip saving
# state checkpoints and only save the final deployment", pulumi/pulumi#10668). The venue's
# tests read only the state an operation leaves. With a local backend's whole-state writes, a
# 1463-resource venue's first `up` took 523 s, 75 % of the CLI's CPU in saveSnapshot; with
# this, 178 s (benchmarks/venue_up_benchmark.py [--skip-checkpoints]). Dev and prod keep the
# CLI's default, as the toolkit's users run it, and so does every workspace of
# test_engine_workspaces.py, where an `up` fails halfway and a second one completes it.
FINAL_STATE_ONLY = {"PULUMI_SKIP_CHECKPOINTS": "true"}


@dataclass
class Deployed:
    preview: subprocess.CompletedProcess[str]
    up: subprocess.CompletedProcess[str]
    second_up: subprocess.CompletedProcess[str]
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]
    secrets: list[str]
    served: list[dict[str, Any]]  # the Kubernetes objects on the API server when the first up ended


class Fleet:
    """The stacks this worker's tests ask for, by stack: when a test first asks for one, its
    group's workspace is made and every stack of the group deployed, in STACKS' order. Only
    indexing deploys; there is no iteration that would deploy every group. A deployment that
    raised is raised again to the group's later tests, not tried again."""

    def __init__(self, tmp: pytest.TempPathFactory, engine_bin: Path, registries: tuple[Any, Any, str]) -> None:
        self.tmp, self.engine_bin, self.registries = tmp, engine_bin, registries
        self.workspaces: dict[str, Workspace] = {}
        self.done: dict[str, Deployed] = {}
        self.failed: dict[str, Exception] = {}
        self.left: Counter[str] | None = None  # each group's tests not yet run, once one has

    def workspace(self, stack: str) -> Workspace:
        name = group(stack)
        if name not in self.workspaces:
            members = tuple(s for s in STACKS if group(s) == name)
            ws = Workspace.create(self.tmp.mktemp(name), self.engine_bin, clusters=members)
            dev, prod, _ = self.registries
            ws.env["MUSICSTORE_STANDIN_REGISTRIES"] = local_registries(dev, prod)
            if name != "engine":
                ws.env.update(FINAL_STATE_ONLY)
            self.workspaces[name] = ws
        return self.workspaces[name]

    def __getitem__(self, stack: str) -> Deployed:
        name = group(stack)
        if name in self.failed:
            raise RuntimeError(f"the deployment of group {name} failed in an earlier test") from self.failed[name]
        if stack not in self.done:
            try:
                for member in (s for s in STACKS if group(s) == name):
                    self.done[member] = self.deploy(member)
            except Exception as error:
                self.failed[name] = error
                raise
        return self.done[stack]

    def deploy(self, stack: str) -> Deployed:
        workspace = self.workspace(stack)
        secrets = {key.split(":", 1)[1]: secret_value(stack, key) for key in offline_files(stack).placeholders}
        # The release pipeline sets the digest it built and tested; here, the image pushed to dev.
        values = {"promoteDigest": self.registries[2]} if load_stack(stack).promote_from_stack else {}
        if load_stack(stack).expires_at:
            # The organizer sets the end of the coming session: `pulumi up` refuses a past one,
            # and the committed date ages while the clock does not.
            values["expiresAt"] = stamp(datetime.now(UTC) + timedelta(days=30))
        workspace.init(stack, secrets, values)
        preview = workspace.pulumi("preview", "--json", stack=stack, check=False)
        up = workspace.pulumi("up", "--yes", stack=stack, check=False)
        served = workspace.cluster(stack).objects()
        second = workspace.pulumi("up", "--yes", "--expect-no-changes", stack=stack, check=False)
        return Deployed(
            preview=preview,
            up=up,
            second_up=second,
            resources=workspace.resources(stack),
            outputs=json.loads(workspace.pulumi("stack", "output", "--json", "--show-secrets", stack=stack).stdout),
            secrets=list(secrets.values()),
            served=served,
        )

    def ran(self, test: pytest.Item) -> None:
        """A test of this module has run. Once the last test of a group has, the group's control
        planes stop (its state and files stay), rather than run idle beside the next groups'
        tests until the session ends. xdist's loadgroup gives a worker all of a group's tests,
        so the group's tests this worker runs are all the selected tests of that group."""
        if self.left is None:
            self.left = Counter(xdist_group(t) for t in test.session.items if t.module is test.module)
        name = xdist_group(test)
        self.left[name] -= 1
        if self.left[name] == 0 and name in self.workspaces:
            self.workspaces[name].close()

    def close(self) -> None:
        for ws in self.workspaces.values():
            ws.close()


def xdist_group(test: pytest.Item) -> str:
    """The group a test is deployed in: its own xdist_group mark's (a stack's parameter or the
    test's), else the module's."""
    mark = test.get_closest_marker("xdist_group")
    assert mark is not None, test.nodeid
    return str(mark.args[0])


@pytest.fixture(scope="session")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, engine_bin: Path, registries: tuple[LocalRegistry, LocalRegistry, str]
) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path_factory, engine_bin, registries)
    yield fleet
    fleet.close()


@pytest.fixture(autouse=True)
def _a_group_stops_after_its_last_test(request: pytest.FixtureRequest, deployed: Fleet) -> Iterator[None]:
    yield
    deployed.ran(request.node)


@pytest.fixture(scope="session")
def workspace(deployed: Fleet) -> Workspace:
    """Dev's and prod's workspace."""
    return deployed.workspace("dev")


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def planned(plan: Plan) -> Counter[str]:
    return Counter(r.type for r in plan.recording.resources.values())


@pytest.mark.parametrize("stack", per_stack())
def test_preview_up_and_a_second_up_that_changes_nothing(stack: str, deployed: Fleet) -> None:
    run = deployed[stack]
    assert run.preview.returncode == 0, run.preview.stderr[-3000:] + run.preview.stdout[-3000:]
    assert run.up.returncode == 0, run.up.stderr[-3000:] + run.up.stdout[-3000:]
    assert run.second_up.returncode == 0, run.second_up.stdout[-3000:]
    # The summary's only line: every resource and the stack itself unchanged (default providers uncounted).
    # A StackReference is read, not updated, and is not counted there (pulumi-engine.md).
    summary = run.second_up.stdout.rsplit("Resources:", 1)[1].split("Duration:")[0].split()
    counted = managed(run.resources) - Counter({"pulumi:pulumi:StackReference": 1})
    assert summary == [str(sum(counted.values()) + 1), "unchanged"]


@pytest.mark.parametrize("stack", per_stack())
def test_up_creates_what_the_offline_plan_lists(stack: str, deployed: Fleet, stack_plans: dict[str, Plan]) -> None:
    assert managed(deployed[stack].resources) == planned(stack_plans[stack])


@pytest.mark.parametrize("stack", per_stack())
def test_the_real_preview_lists_what_the_offline_plan_lists(
    stack: str, deployed: Fleet, stack_plans: dict[str, Plan]
) -> None:
    steps = json.loads(deployed[stack].preview.stdout)["steps"]
    # A StackReference is a read step; everything else a new stack makes, a create.
    previewed = [{"type": s["newState"]["type"], "urn": s["urn"]} for s in steps if s["op"] in ("create", "read")]
    assert managed(previewed) == planned(stack_plans[stack])


def test_prod_promotes_the_digest_it_was_given_between_the_local_registries(
    deployed: Fleet, registries: tuple[LocalRegistry, LocalRegistry, str]
) -> None:
    _, prod, digest = registries
    team = deployed["prod"].outputs["teams"]["team1"]
    assert team["registryLoginServer"] == prod.server
    assert team["image"] == f"{prod.server}/{REPOSITORY}@{digest}"
    promotion = next(r for r in deployed["prod"].resources if r["type"] == "pulumi-python:dynamic:Resource")
    assert promotion["outputs"]["method"] == "oci-copy"
    client = RegistryClient(prod.server, prod.username, prod.password)
    assert client.manifest_digest(REPOSITORY, digest) == digest


def test_prod_reads_devs_real_outputs_through_its_stack_reference(deployed: Fleet) -> None:
    source = deployed["prod"].outputs["promotionSource"]
    assert source["stack"].endswith("dev")
    assert source["registryLoginServers"] == deployed["dev"].outputs["registryLoginServers"]


KUBERNETES_KINDS = {
    "kubernetes:core/v1:Namespace",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
}


def identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace") or "", meta["name"]


def kubernetes_state(run: Deployed) -> list[dict[str, Any]]:
    return [r for r in run.resources if r["type"].startswith("kubernetes:") and r.get("custom", True) and "id" in r]


@pytest.mark.parametrize("stack", per_stack())
def test_up_applies_every_kubernetes_object_to_the_api_server(stack: str, deployed: Fleet) -> None:
    run = deployed[stack]
    # Azure's side (nodes, addresses, disks) answered every call of the control plane's.
    assert deployed.workspace(stack).cluster(stack).azure.errors == []
    state = [r for r in kubernetes_state(run) if r["type"] in KUBERNETES_KINDS]
    assert state
    # What the server holds in the program's namespaces is what the state holds: nothing missing,
    # nothing more (a namespace's own "default" service account aside, which the server makes).
    served = {identity(o["object"]) for o in run.served if o["name"] != "default" or "namespaces" in o["path"]}
    assert {identity(r["outputs"]) for r in state} == served


@pytest.mark.parametrize("stack", per_stack([s for s in STACKS if not load_stack(s).promote_from_stack]))
def test_each_stack_with_its_own_image_makes_every_kind_of_kubernetes_object(stack: str, deployed: Fleet) -> None:
    # Prod has no in-cluster database and no pipeline access of its own; dev and the venue have.
    made = {r["type"] for r in kubernetes_state(deployed[stack])}
    assert made >= KUBERNETES_KINDS


def contains(actual: Any, expected: Any) -> bool:
    """`actual` holds every key and item of `expected` (what the server added is allowed)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(contains(actual.get(k), v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(contains, actual, expected))
    return bool(actual == expected)


@pytest.mark.parametrize("stack", per_stack())
def test_the_network_policies_are_served_as_the_program_wrote_them(stack: str, deployed: Fleet) -> None:
    run = deployed[stack]
    served = {identity(o["object"]): o["object"] for o in run.served}
    policies = [r for r in kubernetes_state(run) if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    assert policies
    for policy in policies:
        assert contains(served[identity(policy["outputs"])]["spec"], policy["inputs"]["spec"]), policy["urn"]


def annotations(resource: dict[str, Any]) -> dict[str, str]:
    return dict(resource["outputs"]["metadata"].get("annotations") or {})


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("stack", per_stack())
def test_the_up_waited_until_every_awaited_deployment_rolled_out(stack: str, deployed: Fleet) -> None:
    """pulumi-kubernetes waits for a Deployment's rollout unless it is annotated skipAwait; the
    program awaits where the stack says so (components/music_store_app.py, `await_rollout`).
    What the provider recorded when its create returned is the proof: the Deployment's state
    holds it rolled out, while its pods became Ready a second or more after they were made
    (kwok's pod-ready delay, tests/support/kube.py), so a create that had not waited would have
    recorded no available replica."""
    run = deployed[stack]
    deployments = [r for r in kubernetes_state(run) if r["type"] == "kubernetes:apps/v1:Deployment"]
    assert deployments
    awaited = [r for r in deployments if annotations(r).get("pulumi.com/skipAwait") != "true"]
    assert awaited, "some Deployment is awaited"
    for deployment in awaited:
        recorded = deployment["outputs"].get("status") or {}
        assert recorded.get("availableReplicas") == deployment["outputs"]["spec"]["replicas"], deployment["urn"]
    pods = deployed.workspace(stack).cluster(stack).client().items("/api/v1/pods")
    ready = [
        (moment(p["metadata"]["creationTimestamp"]), moment(c["lastTransitionTime"]))
        for p in pods
        if not p["metadata"]["namespace"].startswith("kube-")
        for c in (p.get("status") or {}).get("conditions") or []
        if c["type"] == "Ready" and c["status"] == "True"
    ]
    assert ready and all(became >= made + timedelta(seconds=1) for made, became in ready)


def revealed(value: Any) -> Any:
    """A value of `pulumi stack export --show-secrets`, its secrets unwrapped (the export writes
    each as {SIG: SECRET_SIG, "plaintext": "<JSON of the value>"})."""
    if isinstance(value, dict):
        if "plaintext" in value and len(value) == 2:
            return revealed(json.loads(value["plaintext"]))
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    return value


def pipeline_tokens(workspace: Workspace, stack: str) -> dict[str, str]:
    """Each team namespace's pipeline token, as the stack hands it to Azure DevOps' Kubernetes
    service connection (its serviceAccount's token: the Secret's data, base64)."""
    exported = json.loads(workspace.pulumi("stack", "export", "--show-secrets", stack=stack).stdout)
    resources = revealed(exported["deployment"]["resources"])
    secrets = {
        r["outputs"]["metadata"]["namespace"]: r["outputs"]["data"]["token"]
        for r in resources
        if r["type"] == "kubernetes:core/v1:Secret" and r["outputs"]["metadata"]["name"] == "azure-pipelines-token"
    }
    connections = [
        r["inputs"]["serviceAccount"]["token"]
        for r in resources
        if r["type"] == "azuredevops:index/serviceEndpointKubernetes:ServiceEndpointKubernetes"
    ]
    assert sorted(connections) == sorted(secrets.values()), "each connection holds its namespace's real token"
    return {namespace: base64.b64decode(token).decode() for namespace, token in secrets.items()}


@pytest.mark.parametrize("stack", per_stack(["dev", VENUE]))
def test_the_pipeline_token_may_deploy_in_its_namespace_and_nothing_else(stack: str, deployed: Fleet) -> None:
    assert deployed[stack].up.returncode == 0
    workspace = deployed.workspace(stack)
    cluster = workspace.cluster(stack)
    tokens = pipeline_tokens(workspace, stack)
    namespaces = sorted(tokens)
    for own in namespaces:
        other = next((n for n in namespaces if n != own), "kube-system")
        pipeline = cluster.client(tokens[own])
        for verb in ("create", "update", "patch", "get"):
            assert pipeline.may(verb, "deployments", namespace=own, group="apps"), (own, verb)
        assert not pipeline.may("get", "secrets", namespace=other), (own, other)
        assert not pipeline.may("list", "secrets", namespace=other), (own, other)
        for resource, group in (("namespaces", ""), ("clusterrolebindings", "rbac.authorization.k8s.io")):
            assert not pipeline.may("create", resource, group=group), (own, resource)
        assert not pipeline.may("create", "deployments", namespace=other, group="apps"), (own, other)
    # And the calls themselves, as `kubectl apply` makes them (a server-side dry run changes nothing).
    own, other = namespaces[0], next((n for n in namespaces[1:]), "kube-system")
    pipeline = cluster.client(tokens[own])
    app = pipeline.get(f"/apis/apps/v1/namespaces/{own}/deployments/mvcmusicstore")
    patch = {"spec": {"template": {"metadata": {"annotations": {"build": "4711"}}}}}
    pipeline.patch(f"/apis/apps/v1/namespaces/{own}/deployments/mvcmusicstore?dryRun=All", patch)
    with pytest.raises(KubeError) as refused:
        pipeline.get(f"/api/v1/namespaces/{other}/secrets")
    assert refused.value.status == 403
    assert app["metadata"]["namespace"] == own


def readable(text: str) -> str:
    """The text and every base64 run in it decoded (a kubeconfig, a script's settings)."""
    decoded = []
    for run in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except ValueError:
            continue
    return "\n".join([text, *decoded])


@pytest.mark.parametrize("stack", per_stack([s for s in STACKS if s == "dev" or group(s) == f"engine-{s}"]))
def test_the_state_holds_no_secret_in_clear(
    stack: str, deployed: Fleet, registries: tuple[LocalRegistry, LocalRegistry, str]
) -> None:
    # Every file of the backend the stack shares with its group: stacks, backups and history
    # (pulumi-engine.md: annotateSecrets), in clear or base64-encoded: generated values, the
    # secrets set, the registries' passwords.
    workspace = deployed.workspace(stack)
    needles = {SECRET_MARK, registries[0].password, registries[1].password}
    needles |= {s for member in STACKS if group(member) == group(stack) for s in deployed[member].secrets}
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
    deployed: Fleet, workspace: Workspace, tmp_path: Path
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


def test_the_policy_pack_fails_an_up_and_a_preview_that_break_a_rule(new_workspace: Callable[..., Workspace]) -> None:
    """Prod without promotion runs its image by tag. In the first preview of a new stack the
    image is not known yet (it names the registry's login server), and the pack downgrades a
    rule that reads an unknown value ("can't run during preview", pulumi_policy/policy.py);
    `up` knows it, and so does every preview once the registry exists."""
    ws = new_workspace("policy")
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


def test_a_stack_that_keeps_the_rules_passes_the_policy_pack(workspace: Workspace, deployed: Fleet) -> None:
    assert deployed["dev"].up.returncode == 0
    kept = workspace.pulumi("preview", "--policy-pack", "policy", stack="dev", check=False)
    assert kept.returncode == 0, kept.stdout[-3000:] + kept.stderr[-3000:]
    assert "musicstore-guardrails" in kept.stdout


@pytest.mark.parametrize("stack", per_stack())
def test_refresh_keeps_every_object(stack: str, deployed: Fleet) -> None:
    assert deployed[stack].up.returncode == 0
    workspace = deployed.workspace(stack)
    workspace.pulumi("refresh", "--yes", stack=stack)
    assert managed(workspace.resources(stack)) == managed(deployed[stack].resources)
    # Azure's side answered every call of the control plane's through the refresh too.
    assert workspace.cluster(stack).azure.errors == []
    # Each Kubernetes object as the server holds it now, the same object as up made it.
    refreshed = {r["urn"]: r for r in workspace.resources(stack) if r["type"].startswith("kubernetes:")}
    for before in kubernetes_state(deployed[stack]):
        assert identity(refreshed[before["urn"]]["outputs"]) == identity(before["outputs"])
        assert refreshed[before["urn"]]["id"] == before["id"]


@pytest.mark.parametrize("stack", per_stack())
def test_a_refresh_while_the_api_server_is_stopped_drops_no_kubernetes_object(stack: str, deployed: Fleet) -> None:
    assert deployed[stack].up.returncode == 0
    workspace = deployed.workspace(stack)
    cluster = workspace.cluster(stack)
    cluster.stop_api_server()
    try:
        refresh = workspace.pulumi("refresh", "--yes", stack=stack, check=False)
    finally:
        cluster.start_api_server()
    # Without deleteUnreachable the provider fails the refresh instead of reporting objects gone.
    assert refresh.returncode != 0 and "unreachable" in refresh.stdout + refresh.stderr
    assert managed(workspace.resources(stack)) == managed(deployed[stack].resources)


def test_destroy_is_refused_for_prods_protected_resources(workspace: Workspace, deployed: Fleet) -> None:
    assert deployed["prod"].up.returncode == 0
    refused = workspace.pulumi("destroy", "--yes", stack="prod", check=False)
    assert refused.returncode != 0
    assert "protected" in refused.stdout + refused.stderr
    assert managed(workspace.resources("prod")) == managed(deployed["prod"].resources)


@pytest.mark.xdist_group(group(VENUE))
def test_pulumi_destroy_empties_a_stack(deployed: Fleet) -> None:
    venue = VENUE
    assert deployed[venue].up.returncode == 0
    workspace = deployed.workspace(venue)
    # Past its expiresAt the program refuses a preview (or an up) in one line; destroy does not
    # run the program, so the teardown of an expired venue goes on.
    passed = stamp(datetime.now(UTC) - timedelta(hours=1))
    workspace.pulumi("config", "set", "expiresAt", passed, stack=venue)
    refused = workspace.pulumi("preview", stack=venue, check=False)
    assert refused.returncode != 0
    assert f'config musicstore:expiresAt = "{passed}": has passed' in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert workspace.cluster(venue).objects() != []
    workspace.pulumi("destroy", "--yes", stack=venue)
    assert managed(workspace.resources(venue)) == Counter()
    assert workspace.cloud_objects(venue) == []
    # The API server was up: every object the program made is gone from it, and Azure's side
    # met no error while the pools, the addresses and the disks went.
    assert workspace.cluster(venue).objects() == []
    assert workspace.cluster(venue).azure.errors == []


def test_the_teardown_command_empties_a_stack_through_the_automation_api_even_with_the_cluster_gone(
    workspace: Workspace, deployed: Fleet
) -> None:
    assert deployed["dev"].up.returncode == 0
    workspace.cluster("dev").stop_api_server()  # the cluster went first, with its resource group
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "teardown", "dev", "--confirm", "destroy dev"],
        cwd=workspace.project,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "dev" not in workspace.pulumi("stack", "ls", "--json").stdout
    # Azure's objects are gone; the Kubernetes objects could not be reached, so they were only
    # dropped from the state (PULUMI_K8S_DELETE_UNREACHABLE; their cluster went with the group).
    assert workspace.cloud_objects("dev") == []
    assert os.path.exists(workspace.project / "Pulumi.dev.yaml")
