"""Whole-graph rules: each fires on a graph that breaks it, and the real stacks pass."""

from __future__ import annotations

import pulumi
import pytest

from components.aks_cluster import AksCluster, WindowsPoolArgs
from components.container_registry import ContainerRegistry, ContainerRegistryArgs
from components.music_store_app import MusicStoreApp, MusicStoreAppArgs
from infra import stack_files
from offline.findings import check_graph
from offline.plan import Plan
from tests.conftest import Recorder
from tests.support.builders import cluster_args


def rules(rec: object) -> set[str]:
    return {f.rule for f in check_graph(rec)}  # type: ignore[arg-type]


@pytest.mark.parametrize("stack", stack_files.stacks())
def test_real_stacks_break_no_rule_and_only_the_admin_user_is_advised(stack: str, stack_plans: dict[str, Plan]) -> None:
    findings = stack_plans[stack].findings
    assert [f for f in findings if f.severity == "error"] == []
    # The mission asks for the admin user; the advisory says where it would not belong. A stack
    # that makes the teams' Azure DevOps side without importing the toolkit is told who pushes it.
    toolkit = {"toolkit-not-imported"} if stack_plans[stack].config.devops else set()
    # The built-in prices are East US's; every committed stack runs in West Europe.
    assert stack_plans[stack].config.location == "westeurope"
    # What a venue shares with another stack file (its organization, an address range) is said in
    # both plans and the PR comment; as warnings they are the organizer's call, not the program's
    # (tests/test_venue_copy.py holds them), and any error stays an error above.
    own = {f.rule for f in findings if not f.rule.endswith("-of-another-stack")}
    assert own == {"registry-admin-user", "prices-of-another-region"} | toolkit


def test_app_on_an_os_sku_no_pool_has_is_an_error(recorder: Recorder) -> None:
    def build() -> None:
        AksCluster("aks", cluster_args())
        MusicStoreApp(
            "red-app",
            MusicStoreAppArgs(namespace="ns", team="red", image="mcr/app:1", os_sku="Windows2025", replicas=1),
        )

    assert "windows-image-matches-pool" in rules(recorder(build))


def test_image_from_a_registry_without_acr_pull_is_an_error(recorder: Recorder) -> None:
    def build() -> None:
        registry = ContainerRegistry("red-registry", ContainerRegistryArgs("rg", "westeurope", "gdbc", "dev", "red"))
        args = cluster_args()
        AksCluster("aks", type(args)(**{**vars(args), "registry_ids": {}}))
        MusicStoreApp(
            "red-app",
            MusicStoreAppArgs(
                namespace="ns",
                team="red",
                image=pulumi.Output.concat(registry.login_server, "/app:1"),
                os_sku="Windows2022",
                replicas=1,
            ),
        )

    assert "acr-pull-granted" in rules(recorder(build))


def test_many_pools_warn_of_arm_throttling(recorder: Recorder) -> None:
    pools = {f"w{i}": WindowsPoolArgs("Standard_D4s_v3", 1, "Windows2022", 30) for i in range(21)}
    found = check_graph(recorder(lambda: AksCluster("aks", cluster_args(**pools))))
    assert [(f.severity, f.rule) for f in found] == [("warning", "arm-put-throttling")]
    assert "22 cluster and pool PUTs exceed the bucket of 20" in found[0].message
