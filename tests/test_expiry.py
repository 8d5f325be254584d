"""The stacks judged at fixed dates against the dated table of what expires; never the wall clock."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from infra import dated_facts, stack_files
from offline.expiry import base_image_problem
from offline.plan import Plan, make_plan
from ops import cli, dockerfile_check
from tests.conftest import project_building

EXPIRY_RULES = {
    "kubernetes-version-expired",
    "kubernetes-version-unknown",
    "os-sku-not-in-api-version",
    "os-sku-not-on-kubernetes-version",
    "network-policy-not-on-windows-release",
    "base-image-unsupported",
    "vm-family-restricted",
}


def found(plan: Plan, rule: str) -> list[str]:
    return [f.message for f in plan.findings if f.rule == rule]


def test_kubernetes_1_34_on_2026_12_01_fails_with_the_end_date_and_the_lts_remedy() -> None:
    plan = make_plan("dev", overrides={"kubernetesVersion": "1.34"}, today=date(2026, 12, 1))
    [message] = found(plan, "kubernetes-version-expired")
    assert "2026-11-30" in message and "Premium" in message and "AKSLongTermSupport" in message
    assert "kubernetes-version-expired" in {f.rule for f in plan.errors}


def test_kubernetes_1_34_on_2026_10_01_passes_with_a_warning() -> None:
    plan = make_plan("dev", overrides={"kubernetesVersion": "1.34"}, today=date(2026, 10, 1))
    assert found(plan, "kubernetes-version-expired") == []
    [warning] = found(plan, "kubernetes-version-expiring")
    assert "2026-11-30" in warning


def test_long_term_support_on_premium_keeps_a_minor_past_community_support() -> None:
    lts = {"kubernetesVersion": "1.34", "clusterSkuTier": "Premium", "clusterSupportPlan": "AKSLongTermSupport"}
    plan = make_plan("dev", overrides=lts, today=date(2026, 12, 1))
    assert found(plan, "kubernetes-version-expired") == []
    assert (
        plan.recording.one("azure-native:containerservice:ManagedCluster").plain("supportPlan") == "AKSLongTermSupport"
    )


def test_a_dsv3_size_gives_the_restriction_finding() -> None:
    plan = make_plan("dev", overrides={"agentVmSize": "Standard_D4s_v3"}, today=date(2026, 12, 1))
    [message] = found(plan, "vm-family-restricted")
    assert "new subscription cannot deploy it" in message and "Dsv5" in message


def test_the_base_image_tag_no_longer_built_is_refused() -> None:
    image = "mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2022"
    problem = base_image_problem(image)
    assert problem and "since 2025-10-14" in problem and "4.8.1-windowsservercore-ltsc2022" in problem
    assert base_image_problem(image.replace(":4.8-", ":4.8.1-")) is None
    dockerfile = (stack_files.ROOT / "app" / "Dockerfile").read_text().replace(":4.8.1-", ":4.8-")
    assert dockerfile_check.problems(dockerfile, dockerfile_check.stack_configs())[0].startswith("app/Dockerfile: ")


def test_windows2025_with_the_sdks_api_version_is_refused_with_the_reason(tmp_path: Path) -> None:
    pools = '{"win25": {"vmSize": "Standard_D4s_v5", "count": 1, "osSku": "Windows2025"}}'
    overrides = {"windowsPools": pools, "appWindowsVersion": "ltsc2025"}
    root = project_building("ltsc2025", tmp_path)
    plan = make_plan("dev", root=root, overrides=overrides, today=date(2026, 12, 1))
    [api] = found(plan, "os-sku-not-in-api-version")
    assert dated_facts.SDK_AKS_API_VERSION != "unknown"
    assert f"AKS API {dated_facts.SDK_AKS_API_VERSION}" in api and "InvalidOSSKU" in api
    [policy] = found(plan, "network-policy-not-on-windows-release")
    assert "calico" in policy and "Windows2025" in policy


def test_a_table_read_long_before_the_event_warns() -> None:
    later = date.fromordinal(dated_facts.READ_ON.toordinal() + dated_facts.STALE_AFTER_DAYS + 1)
    assert found(make_plan("dev", today=later), "dated-facts-stale")
    assert not found(make_plan("dev", today=dated_facts.READ_ON), "dated-facts-stale")


@pytest.mark.parametrize("stack", stack_files.stacks())
def test_no_committed_stack_relies_on_an_expired_fact_on_its_date(stack: str, stack_plans: dict[str, Plan]) -> None:
    # The stacks' own dates: expiresAt, else the day the table was read.
    assert [f.line() for f in stack_plans[stack].findings if f.rule in EXPIRY_RULES] == []


def test_the_weekly_command_plans_a_stack_at_a_given_date(capsys: pytest.CaptureFixture[str]) -> None:
    # The scheduled workflow runs exactly this for every stack file, with today's date; the
    # committed stacks' facts are judged above, from the session's plans.
    stack = "dev"
    assert cli.plan([stack, "--date", dated_facts.READ_ON.isoformat()]) == 0
    assert "kubernetes-version-expired" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("size", "family", "restricted"),
    [
        ("Standard_D2s_v3", "Dsv3", True),
        ("Standard_DS2_v2", "Dsv2", True),
        ("Standard_B2ms", "Bs", True),
        ("Standard_D4s_v5", "Dsv5", False),
        ("Standard_F4s_v2", "Fsv2", False),
    ],
)
def test_vm_sizes_map_to_their_family(size: str, family: str, restricted: bool) -> None:
    assert dated_facts.vm_family(size) == family
    assert (dated_facts.restriction(size) is not None) is restricted


def test_the_weekly_workflow_runs_that_command_for_every_stack_file() -> None:
    workflow = yaml.safe_load((stack_files.ROOT / ".github" / "workflows" / "expiry.yml").read_text())
    assert workflow[True]["schedule"][0]["cron"].endswith("* * 1")  # YAML 1.1 reads the key `on` as True
    script = "\n".join(step.get("run", "") for step in workflow["jobs"]["expiry"]["steps"])
    assert "for file in Pulumi.*.yaml" in script
    assert 'musicstore plan "$stack" --date "$today"' in script
