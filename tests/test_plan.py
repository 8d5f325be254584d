"""The offline plan: the README's first command, its JSON, references, path and errors."""

from __future__ import annotations

import gc
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import stack as sdk_stack

from infra import stack_files
from infra.dated_facts import READ_ON
from infra.stack_config import PROJECT
from offline import diagram, gc_tuning, graph, plan, quiescence, recording, render, stack_traces
from offline.plan import Plan
from ops import cli

ROOT = stack_files.ROOT


def readme_first_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    return next(line for line in block.splitlines()[1:] if line.strip()).strip()


def no_network_prefix() -> list[str]:
    """A fresh network namespace: as root `unshare -n`, else a user namespace (`-rn`)."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if (
            shutil.which("unshare")
            and subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0
        ):
            return prefix
    pytest.skip("this machine lets no process drop its network (no network namespaces)")


def test_readme_first_command_plans_dev_without_network() -> None:
    prefix = no_network_prefix()
    command = readme_first_command()
    assert command == "scripts/plan dev"
    subprocess.run(["scripts/bootstrap"], cwd=ROOT, check=True, timeout=900)  # installs, if needed, first
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    done = subprocess.run(
        [*prefix, "bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Offline plan of stack dev")
    assert "azure-native:containerservice:ManagedCluster" in done.stdout
    assert "Expected provisioning time:" in done.stdout


def test_json_lists_every_resource_with_its_dependencies(stack_plans: dict[str, Plan], tmp_path: Path) -> None:
    out = tmp_path / "dev.json"
    assert cli.plan(["dev", "--date", READ_ON.isoformat(), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    recorded = stack_plans["dev"].recording.resources
    assert sorted(r["urn"] for r in doc["resources"]) == sorted(recorded)
    by_type = {r["type"]: r for r in doc["resources"]}
    cluster = by_type["azure-native:containerservice:ManagedCluster"]["urn"]
    assert cluster in by_type["azure-native:containerservice:AgentPool"]["dependencies"]
    app = next(r for r in doc["resources"] if r["type"] == "kubernetes:apps/v1:Deployment" and r["name"] == "team1-app")
    namespace = by_type["kubernetes:core/v1:Namespace"]["urn"]
    provider = by_type["pulumi:providers:kubernetes"]["urn"]
    assert namespace in app["dependencies"] and provider in app["dependencies"]
    assert by_type["pulumi:providers:kubernetes"]["inputs"]["kubeconfig"] == "[secret]"
    assert doc["outputs"]["kubeconfig"] == "[secret]"
    assert doc["criticalPath"]["totalMinutes"] > 0 and doc["schemaVersion"] == 1


def test_prod_reads_dev_outputs_through_its_stack_reference(stack_plans: dict[str, Plan]) -> None:
    prod = stack_plans["prod"]
    assert list(prod.references) == ["dev"]
    reference = prod.recording.one("pulumi:pulumi:StackReference")
    assert reference.plain("name") == "organization/musicstore/dev"
    dev_servers = stack_plans["dev"].recording.outputs()["registryLoginServers"]
    assert prod.recording.outputs()["promotionSource"]["registryLoginServers"] == dev_servers


def test_critical_path_is_printed_with_chain_and_total(stack_plans: dict[str, Plan]) -> None:
    dev = stack_plans["dev"]
    text = render.render(dev)
    names = [dev.recording.resources[u].name for u, _ in dev.critical.chain]
    assert f"Expected provisioning time: {dev.critical.total_minutes:g} min" in text
    # dev's app is not awaited (appAwaitRollout false): its database's rollout ends the chain.
    assert names[0] == "rg" and "aks" in names and "aks-win22" in names and names[-1] == "team1-app-sql"
    assert dev.critical.total_minutes == pytest.approx(sum(m for _, m in dev.critical.chain))


def test_a_rollout_pulumi_up_does_not_wait_for_takes_no_rollout_time(stack_plans: dict[str, Plan]) -> None:
    def app_minutes(planned: Plan) -> float:
        [app] = [r for r in planned.recording.of_type("kubernetes:apps/v1:Deployment") if r.name == "team1-app"]
        return graph.typical_minutes(app)

    assert app_minutes(stack_plans["dev"]) == graph.NOT_AWAITED_MINUTES  # appAwaitRollout false: skipAwait
    assert app_minutes(plan.make_plan("dev", overrides={"appAwaitRollout": "true"})) == graph.WINDOWS_DEPLOYMENT_MINUTES


def test_critical_path_follows_the_longest_chain() -> None:
    depends = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    minutes = {"a": 1, "b": 5, "c": 2, "d": 1}
    assert [n for n, _ in graph.critical_path(depends, minutes).chain] == ["a", "b", "d"]
    minutes["c"] = 9
    changed = graph.critical_path(depends, minutes)
    assert [n for n, _ in changed.chain] == ["a", "c", "d"] and changed.total_minutes == 11


def test_critical_path_changes_with_the_stack(stack_plans: dict[str, Plan]) -> None:
    external = plan.make_plan(
        "dev", overrides={"databaseMode": "external"}, secret_overrides={"databaseConnectionString": "Server=db"}
    )
    before = [u for u, _ in stack_plans["dev"].critical.chain]
    after = [u for u, _ in external.critical.chain]
    assert any("SqlServer" in u for u in before)
    assert not any("SqlServer" in u for u in after)


def test_a_dependency_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        graph.critical_path({"a": ["b"], "b": ["a"]}, {})


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by scripts/bootstrap --system")
def test_diagram_files_exist_and_open(stack_plans: dict[str, Plan], tmp_path: Path) -> None:
    dev = stack_plans["dev"]
    written = {p.suffix: p for p in diagram.write(dev.recording, dev.config.teams, tmp_path)}
    assert set(written) == {".mmd", ".dot", ".svg", ".png"}
    mermaid = written[".mmd"].read_text()
    assert mermaid.startswith("flowchart LR") and '["team team1"]' in mermaid and '["shared"]' in mermaid
    assert ET.parse(written[".svg"]).getroot().tag.endswith("svg")
    assert written[".png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]  # the IHDR chunk: width and height, big-endian
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by scripts/bootstrap --system")
def test_the_venue_diagram_fits_a_screen_and_mermaids_limit(stack_plans: dict[str, Plan], tmp_path: Path) -> None:
    venue = stack_plans["venue-ams"]
    teams = venue.config.teams
    assert len(teams) == 30
    written = {p.suffix: p for p in diagram.write(venue.recording, teams, tmp_path)}
    width, height = _png_size(written[".png"])
    mermaid = written[".mmd"].read_text()
    edges = mermaid.count(" --> ")
    print(f"\nvenue-ams diagram: {width} x {height} px, {edges} Mermaid edges")
    assert width <= 1600 and height <= 2000
    assert edges < diagram.MERMAID_MAX_EDGES
    # Shared once, the first team in full, the other 29 as one box, in the stack's order.
    groups = re.findall(r'^  subgraph g\d+\["([^"]+)"\]', mermaid, re.M)
    assert groups == ["shared", "team team01", "× 29 teams"]
    assert "team02 … team30<br/>each built as team01" in mermaid
    assert "team05" not in mermaid.replace("team02 … team30", "")


def test_a_one_team_stack_is_drawn_whole(stack_plans: dict[str, Plan]) -> None:
    dev = stack_plans["dev"]
    shown = diagram.nodes(dev.recording, dev.config.teams)
    assert len(set(shown.values())) == len(shown)  # no resource shares a node
    assert "× " not in diagram.mermaid(dev.recording, dev.config.teams)


def test_readme_shows_the_committed_diagram() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](docs/dev-plan.svg)" in readme
    assert ET.parse(ROOT / "docs" / "dev-plan.svg").getroot().tag.endswith("svg")


BROKEN = [
    ("teams", "[Team One]", "musicstore:teams[0]"),
    ("windowsPools", "{windows2022: {count: 1}}", "musicstore:windowsPools.windows2022"),
    ("kubernetesVersion", '"1.40"', "musicstore:kubernetesVersion"),
    ("windowsAdminUsername", "admin", "musicstore:windowsAdminUsername"),
    ("vnetCidr", "10.20.0.0/33", "musicstore:vnetCidr"),
    ("appReplicas", "many", "musicstore:appReplicas"),
]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("project")
    for name in ("infra", "components"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(path, copy / path.name)
    return copy


def run_plan(project: Path, dev_yaml: str) -> subprocess.CompletedProcess[str]:
    (project / "Pulumi.dev.yaml").write_text(dev_yaml)
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "plan", "dev", "--date", READ_ON.isoformat()],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(("key", "value", "named"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_value_exits_2_with_one_line(project_copy: Path, key: str, value: str, named: str) -> None:
    done = run_plan(project_copy, f"config:\n  musicstore:environment: dev\n  musicstore:{key}: {value}\n")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: config {named} = ")


def test_yaml_that_does_not_parse_exits_2(project_copy: Path) -> None:
    done = run_plan(project_copy, "config:\n  musicstore:teams: [unclosed\n")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip() == "error: Pulumi.dev.yaml line 3: not valid YAML"


def test_unknown_stack_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "plan", "staging", "--date", READ_ON.isoformat()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    stacks = ", ".join(stack_files.stacks())
    assert done.stderr.strip() == f"error: no stack file Pulumi.staging.yaml: stacks here are {stacks}"


def test_the_committed_diagram_is_the_current_dev_plan(stack_plans: dict[str, Plan]) -> None:
    # Regenerate with: scripts/plan dev --diagram out && cp out/dev.svg out/dev.mmd docs/ (renamed dev-plan.*)
    dev = stack_plans["dev"]
    assert (ROOT / "docs" / "dev-plan.mmd").read_text() == diagram.mermaid(dev.recording, dev.config.teams)


def test_the_diagram_drops_only_arrows_a_longer_chain_implies(stack_plans: dict[str, Plan]) -> None:
    rec = stack_plans["dev"].recording
    shown = diagram.nodes(rec, ("team1",))
    kept = diagram._arrows(rec, shown)
    every = {(b, u) for u, bs in graph.edges(rec).items() if u in shown for b in bs if b in shown}
    assert set(kept) < every

    def reachable(start: str, arrows: list[tuple[str, str]]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            for a, b in arrows:
                if a == node and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    for before, after in every:
        assert after in reachable(before, kept)


@pytest.mark.parametrize("stack", ["prod", "venue-ams"])
def test_the_offline_shortcuts_register_exactly_what_the_sdk_does(
    stack: str, stack_plans: dict[str, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In offline runs only, offline/quiescence.py replaces the SDK's end-of-run wait,
    offline/stack_traces.py its stack-trace walk and offline/gc_tuning.py the collector's
    thresholds: with the SDK's own wait and walk and the interpreter's thresholds put back, the
    same stack registers the same resources, field for field, and exports the same outputs."""
    assert quiescence.offline_wait is quiescence.wait_for_rpcs
    assert stack_traces.offline_stack_trace is stack_traces.no_stack_trace
    assert gc_tuning.offline_thresholds == gc_tuning.THRESHOLDS
    monkeypatch.setattr(quiescence, "offline_wait", quiescence.SDK_WAIT)
    monkeypatch.setattr(stack_traces, "offline_stack_trace", stack_traces.SDK_STACK_TRACE)
    monkeypatch.setattr(gc_tuning, "offline_thresholds", None)
    with_sdk = plan.make_plan(stack)
    ours = stack_plans[stack]
    assert with_sdk.recording.resources.keys() == ours.recording.resources.keys()
    assert with_sdk.recording.resources == ours.recording.resources
    assert with_sdk.recording.stack_outputs == ours.recording.stack_outputs
    assert with_sdk.findings == ours.findings


def test_only_an_offline_run_registers_without_stack_traces() -> None:
    """While an offline run's program runs, the SDK registers with the empty trace; before and
    after, the SDK's own walk is in place, so a run under the engine keeps it."""
    during: list[object] = []

    def program() -> None:
        during.append(sdk_resource._get_stack_trace)
        pulumi.CustomResource("test:index:Thing", "thing", {"size": 1})

    assert sdk_resource._get_stack_trace is stack_traces.SDK_STACK_TRACE
    recording.record(program, project=PROJECT, stack="traces")
    assert during == [stack_traces.no_stack_trace]
    assert sdk_resource._get_stack_trace is stack_traces.SDK_STACK_TRACE


def test_only_an_offline_run_collects_at_the_offline_thresholds() -> None:
    """While an offline run's program runs, the collector has gc_tuning's thresholds; after,
    the ones it had before, whatever they were."""
    during: list[tuple[int, int, int]] = []
    before = gc.get_threshold()
    gc.set_threshold(123, 4, 5)
    try:
        recording.record(lambda: during.append(gc.get_threshold()), project=PROJECT, stack="gc")
        assert during == [gc_tuning.THRESHOLDS]
        assert gc.get_threshold() == (123, 4, 5)
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize("wait", ["sdk", "offline"])
def test_the_offline_wait_raises_what_a_late_output_raised(wait: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An apply that fails after the program's code returned fails the run, with either wait."""

    def program() -> None:
        thing = pulumi.CustomResource("test:index:Thing", "thing", {"size": 1})
        thing.urn.apply(lambda urn: int(urn.rsplit("::", 1)[1]))  # "thing" is not a number

    monkeypatch.setattr(quiescence, "offline_wait", quiescence.SDK_WAIT if wait == "sdk" else quiescence.wait_for_rpcs)
    thresholds = gc.get_threshold()
    with pytest.raises(ValueError, match="invalid literal for int"):
        recording.record(program, project=PROJECT, stack="late")
    # A failed run puts back what it replaced, as a finished one does.
    assert sdk_stack.wait_for_rpcs is quiescence.SDK_WAIT
    assert sdk_resource._get_stack_trace is stack_traces.SDK_STACK_TRACE
    assert gc.get_threshold() == thresholds
