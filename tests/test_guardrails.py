"""Guardrails: checkov over what the stacks deploy and ship, config fuzzing, determinism."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from infra import stack_files
from infra.config import KNOWN_KEYS
from infra.dated_facts import READ_ON
from offline import manifests, plan, recording, render
from offline.plan import Plan
from ops import cli
from tests.support import budget

ROOT = stack_files.ROOT
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
needs_checkov = pytest.mark.skipif(not CHECKOV.exists(), reason="scripts/bootstrap installs checkov")
# The checkov tests share one run of it (the `checked` fixture): on one xdist worker, once.
one_checkov_run = pytest.mark.xdist_group("checkov")


def checkov(*targets: Path) -> list[dict[str, Any]]:
    """Every check checkov made over `targets` (folders), each with its framework: one run,
    offline (no download of guidelines or policies, and no network at all where the machine lets
    us take it away: root, a fresh network namespace). One run for every target because checkov
    takes about 7 s to start; without --quiet, which would leave the passed and skipped checks out."""
    frameworks = ("kubernetes", "dockerfile", "github_actions")
    folders = [arg for target in targets for arg in ("-d", str(target))]
    command = [str(CHECKOV), *folders, "--framework", *frameworks, "--skip-download", "--compact", "-o", "json"]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("unshare"):
        command = ["unshare", "-n", *command]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_ANSI": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.stdout.strip(), done.stderr[-2000:]
    # With several folders, checkov 3 prints its report again after each one, each time with
    # every framework's results so far: the last is whole.
    decoder, text, reports = json.JSONDecoder(), done.stdout, []
    while text := text.lstrip():
        report, end = decoder.raw_decode(text)
        reports, text = report if isinstance(report, list) else [report], text[end:]
    assert {r["check_type"] for r in reports} == set(frameworks), done.stderr[-2000:]
    return [
        {**check, "framework": r["check_type"], "outcome": outcome}
        for r in reports
        for outcome in ("passed", "failed", "skipped")
        for check in r["results"][f"{outcome}_checks"]
    ]


def under(checks: list[dict[str, Any]], folder: Path, framework: str) -> list[dict[str, Any]]:
    return [c for c in checks if c["framework"] == framework and Path(c["file_abs_path"]).is_relative_to(folder)]


def failed(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{c['check_id']} {c['resource']}" for c in checks if c["outcome"] == "failed"]


def unjustified(checks: list[dict[str, Any]]) -> list[str]:
    return [
        c["check_id"]
        for c in checks
        if c["outcome"] == "skipped" and len(str(c["check_result"].get("suppress_comment", "")).strip()) < 20
    ]


def passed(checks: list[dict[str, Any]]) -> int:
    return sum(c["outcome"] == "passed" for c in checks)


@pytest.fixture(scope="module")
def rendered(stack_plans: dict[str, Plan], tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("manifests")
    for stack, p in stack_plans.items():
        assert manifests.write(p.recording, base / stack)
    return base


@pytest.fixture(scope="module")
def privileged(rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev's SQL Server Deployment, its container made privileged, alone in a folder."""
    import yaml

    source = next((rendered / "dev").glob("*deployment-mssql.yaml"))
    obj = yaml.safe_load(source.read_text())
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True}
    folder = tmp_path_factory.mktemp("privileged")
    (folder / "broken.yaml").write_text(yaml.safe_dump(obj))
    return folder


@pytest.fixture(scope="module")
def tersely_skipped(privileged: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The privileged Deployment again, its failing check skipped with too short a reason."""
    import yaml

    obj = yaml.safe_load((privileged / "broken.yaml").read_text())
    obj["metadata"].setdefault("annotations", {})["checkov.io/skip1"] = "CKV_K8S_16=it is fine"
    folder = tmp_path_factory.mktemp("terse")
    (folder / "skipped.yaml").write_text(yaml.safe_dump(obj))
    return folder


@pytest.fixture(scope="module")
def checked(rendered: Path, privileged: Path, tersely_skipped: Path) -> list[dict[str, Any]]:
    return checkov(rendered, privileged, tersely_skipped, ROOT / "app", ROOT / ".github")


@needs_checkov
@one_checkov_run
def test_checkov_passes_the_rendered_kubernetes_objects(rendered: Path, checked: list[dict[str, Any]]) -> None:
    for stack in stack_files.stacks():
        assert passed(under(checked, rendered / stack, "kubernetes")) > 0, stack
    assert failed(under(checked, rendered, "kubernetes")) == []
    assert unjustified(under(checked, rendered, "kubernetes")) == []


@needs_checkov
@one_checkov_run
def test_checkov_passes_the_dockerfile_and_the_workflows(checked: list[dict[str, Any]]) -> None:
    for folder, framework in ((ROOT / "app", "dockerfile"), (ROOT / ".github", "github_actions")):
        checks = under(checked, folder, framework)
        assert passed(checks) > 0, framework
        assert failed(checks) == [] and unjustified(checks) == [], framework


@needs_checkov
@one_checkov_run
def test_checkov_catches_a_privileged_container(privileged: Path, checked: list[dict[str, Any]]) -> None:
    assert "CKV_K8S_16 Deployment.musicstore-team1.mssql" in failed(under(checked, privileged, "kubernetes"))


@needs_checkov
@one_checkov_run
def test_checkov_reports_a_skip_whose_reason_is_too_short(tersely_skipped: Path, checked: list[dict[str, Any]]) -> None:
    checks = under(checked, tersely_skipped, "kubernetes")
    assert "CKV_K8S_16 Deployment.musicstore-team1.mssql" not in failed(checks)
    assert unjustified(checks) == ["CKV_K8S_16"]


def test_every_skip_carries_its_reason_next_to_it() -> None:
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    assert all(len(line.split(":", 2)[2].strip()) > 20 for line in dockerfile.splitlines() if "checkov:skip=" in line)
    from components.music_store_app import WINDOWS_CHECKOV_SKIPS
    from components.sql_server import CHECKOV_SKIPS

    assert all(len(reason) > 20 for reason in {**WINDOWS_CHECKOV_SKIPS, **CHECKOV_SKIPS}.values())


# --- fuzzing -------------------------------------------------------------------------------

GOOD = {
    "teams": ['["red", "blue"]'],
    "teamCount": ["3"],
    "windowsPools": ['{"win25": {"vmSize": "Standard_D4s_v3", "count": 1, "osSku": "Windows2025"}}'],
    "kubernetesVersion": ["1.33", "1.36"],
    "agentCount": ["0", "2"],
    "appReplicas": ["3"],
    "registrySku": ["Standard"],
    "vnetCidr": ["10.50.0.0/16"],
    "agentRdpSourceRanges": ['["203.0.113.0/24"]'],
    "expiresAt": ["2026-12-01T18:00:00Z"],
}
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(-10, 1000).map(str),
    st.sampled_from(["", "true", "false", "0", "-1", "1.0", "null", "[]", "{}", "Windows2019", "0.0.0.0/0"]),
    JSONISH.map(json.dumps),
)
KEYS = st.one_of(
    st.sampled_from(sorted(GOOD)),
    st.sampled_from(sorted(KNOWN_KEYS | {"teamz", "azure-native:location"})),
)


@st.composite
def changes(draw: st.DrawFn) -> list[tuple[str, str]]:
    picked = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(KEYS)
        good = GOOD.get(key)
        # Two draws in three take a good value where one is known, so many configs plan.
        value = draw(st.sampled_from(good)) if good and draw(st.integers(0, 2)) else draw(VALUES)
        picked.append((key, value))
    return picked


# Each example that plans costs a whole dev plan (about a second): CI draws 20, the same 20 each
# run; exploring draws 300. The examples below are kept whatever the budget: every class of
# outcome (a config that plans, one refused by its key's rule, an unknown key) and each failure
# this test ever found.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=budget.examples(ci=20, explore=300))
@given(drawn=changes())
# Found by this test: a pool named by a newline split the error line in two.
@example(drawn=[("windowsPools", '{"\\n": null}')])
@example(drawn=[("teamCount", "3"), ("appReplicas", "3")])
@example(drawn=[("agentCount", "-1")])
@example(drawn=[("teamz", "[]")])
def test_any_config_plans_or_fails_in_one_line_before_any_resource(
    drawn: list[tuple[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["dev", "--date", READ_ON.isoformat()]
    for key, value in drawn:
        argv += ["--set", f"{key}={value}"]
    registered: list[str] = []
    original = recording.RecordingMonitor.RegisterResource

    def counting(self: recording.RecordingMonitor, request: Any) -> Any:
        registered.append(request.name)
        return original(self, request)

    capsys.readouterr()
    with mock.patch.object(recording.RecordingMonitor, "RegisterResource", counting):
        status = cli.plan(argv)  # an exception here is a traceback for the user: the test fails
    out, err = capsys.readouterr()
    event(f"exit {status}")
    assert status in (0, 1, 2)
    if status == 2:
        lines = err.strip().splitlines()
        assert out == "" and len(lines) == 1, (drawn, err)
        assert lines[0].startswith("error: config musicstore:"), (drawn, lines[0])
        assert registered == [], (drawn, lines[0])
    else:
        assert out.startswith("Offline plan of stack dev"), (drawn, err)
        assert "Traceback" not in err


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_planning_twice_gives_the_same_json(stack: str, stack_plans: dict[str, Plan]) -> None:
    first = json.dumps(render.document(stack_plans[stack]), sort_keys=True)
    again = json.dumps(render.document(plan.make_plan(stack)), sort_keys=True)
    assert first == again
