"""Every enum-typed input the program sets on an azure-native resource is a value of the SDK's
enum for that resource's API version: one walk over all the recorded resources of every stack."""

from __future__ import annotations

import copy
from pathlib import Path

import pulumi_azure_native.containerservice as containerservice
import pytest

from infra import stack_files
from infra.stack_config import ConfigError
from offline import enums, recording
from offline.plan import Plan, make_plan
from tests.conftest import project_building

CLUSTER = "azure-native:containerservice:ManagedCluster"


@pytest.mark.parametrize("stack", stack_files.stacks())
def test_every_enum_input_of_every_resource_is_in_the_sdks_enum(
    stack: str, stack_runs: dict[str, recording.Recording]
) -> None:
    resources = list(stack_runs[stack].resources.values())
    assert any(r.type.startswith("azure-native:") for r in resources)
    assert [p for r in resources for p in enums.problems(r.type, r.plain_inputs())] == []


def test_an_os_sku_the_api_version_lacks_is_caught_from_a_stack_file(tmp_path: Path) -> None:
    pools = '{"win25": {"vmSize": "Standard_D4s_v5", "count": 1, "osSku": "Windows2025"}}'
    overrides = {"windowsPools": pools, "appWindowsVersion": "ltsc2025"}
    plan = make_plan("dev", root=project_building("ltsc2025", tmp_path), overrides=overrides)
    found = [p for r in plan.recording.resources.values() for p in enums.problems(r.type, r.plain_inputs())]
    assert any("osSKU = 'Windows2025': not in OSSKU" in p for p in found)


def test_a_sku_tier_the_api_version_lacks_is_refused_from_a_stack_file() -> None:
    # The choices of clusterSkuTier are the SDK enum's own members: config and ARM cannot disagree.
    with pytest.raises(ConfigError) as raised:
        make_plan("dev", overrides={"clusterSkuTier": "Basic"})
    assert str(raised.value).startswith('config musicstore:clusterSkuTier = "Basic": must be one of ')
    tiers = sorted(str(m.value) for m in containerservice.ManagedClusterSKUTier)
    assert f"must be one of {', '.join(tiers)}, the SKU tiers of the AKS API" in str(raised.value)


@pytest.mark.parametrize(
    ("path", "value", "enum"),
    [
        (("sku", "tier"), "Basic", "ManagedClusterSKUTier"),
        (("networkProfile", "networkPluginMode"), "cilium", "NetworkPluginMode"),
    ],
)
def test_a_value_outside_a_nested_enum_is_caught(
    path: tuple[str, str], value: str, enum: str, stack_plans: dict[str, Plan]
) -> None:
    # No config key sets these two: the dev cluster's recorded inputs, with one value changed.
    inputs = copy.deepcopy(stack_plans["dev"].recording.one(CLUSTER).plain_inputs())
    inputs[path[0]][path[1]] = value
    assert enums.problems(CLUSTER, inputs) == [f"ManagedCluster.{'.'.join(path)} = {value!r}: " + _not_in(enum)]


def _not_in(enum: str) -> str:
    return f"not in {enum} ({', '.join(sorted(str(m.value) for m in getattr(containerservice, enum)))})"


def test_an_open_list_such_as_the_vm_sizes_is_not_a_rule(stack_plans: dict[str, Plan]) -> None:
    vm = stack_plans["dev"].recording.one("azure-native:compute:VirtualMachine").plain_inputs()
    assert vm["hardwareProfile"]["vmSize"] == "Standard_D4s_v5"  # not in the SDK's 2018 list of sizes
    assert enums.problems("azure-native:compute:VirtualMachine", vm) == []
