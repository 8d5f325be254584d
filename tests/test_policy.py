"""The policy pack: each rule reported by the offline plan on a stack that breaks it, the real
stacks passing every mandatory rule, and the pack running the very same functions."""

from __future__ import annotations

import base64
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pulumi_azuredevops as azdo
import pulumi_kubernetes as k8s
import pytest
from pulumi_azure_native import compute, containerregistry, containerservice, keyvault, network

from components.container_registry import PROD_PURGE_TAG
from components.registry_purge import PurgeRule, encoded_task
from infra import stack_files
from offline.findings import Finding, check_policies
from offline.plan import Plan, make_plan
from policy import pack, rules
from tests.conftest import Recorder

MANDATORY = [r.name for r in rules.RULES if r.mandatory]


def reported(found: list[Finding], rule: str) -> list[Finding]:
    return [f for f in found if f.rule == rule]


def nsg_open_to(source: str) -> None:
    network.NetworkSecurityGroup(
        "open",
        resource_group_name="rg",
        security_rules=[
            network.SecurityRuleArgs(
                name="rdp-anywhere",
                priority=100,
                direction="Inbound",
                access="Allow",
                protocol="Tcp",
                source_address_prefix=source,
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_ranges=["443", "3389"],
            )
        ],
    )


def deployment(image: str, *, limits: bool = True, privileged: bool = False) -> None:
    k8s.apps.v1.Deployment(
        "web",
        spec=k8s.apps.v1.DeploymentSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "web"}),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app": "web"}),
                spec=k8s.core.v1.PodSpecArgs(
                    containers=[
                        k8s.core.v1.ContainerArgs(
                            name="web",
                            image=image,
                            resources=k8s.core.v1.ResourceRequirementsArgs(limits={"cpu": "1", "memory": "1Gi"})
                            if limits
                            else None,
                            security_context=k8s.core.v1.SecurityContextArgs(privileged=True) if privileged else None,
                        )
                    ]
                ),
            ),
        ),
    )


def purge_task(command: str = "", *, tags: dict[str, str] | None = None, name: str = "purge") -> None:
    rule = PurgeRule(repository="mvcmusicstore", keep=10)
    yaml_text = f"version: v1.1.0\nsteps:\n  - cmd: {command or rule.command()}\n"
    containerregistry.Task(
        name,
        registry_name="gdbcdevteam1abc123",
        resource_group_name="rg",
        step=containerregistry.EncodedTaskStepArgs(
            type="EncodedTask",
            encoded_task_content=base64.b64encode(yaml_text.encode()).decode() if command else encoded_task(rule),
        ),
        tags=tags,
    )


BREAKING: dict[str, Any] = {
    "no-remote-admin-from-internet": lambda: nsg_open_to("Internet"),
    "extension-secrets-protected": lambda: compute.VirtualMachineExtension(
        "bootstrap",
        resource_group_name="rg",
        vm_name="vm",
        publisher="Microsoft.Compute",
        type="CustomScriptExtension",
        type_handler_version="1.10",
        settings={"commandToExecute": "config.cmd --token abc"},
    ),
    "key-vault-rbac": lambda: keyvault.Vault(
        "policies",
        resource_group_name="rg",
        properties=keyvault.VaultPropertiesArgs(
            tenant_id="t",
            sku=keyvault.SkuArgs(family="A", name="standard"),
            enable_rbac_authorization=False,
            access_policies=[
                keyvault.AccessPolicyEntryArgs(
                    tenant_id="t", object_id="o", permissions=keyvault.PermissionsArgs(secrets=["get", "list"])
                )
            ],
        ),
    ),
    "required-tags": lambda: containerregistry.Registry(
        "untagged", resource_group_name="rg", sku=containerregistry.SkuArgs(name="Basic"), tags={"environment": "dev"}
    ),
    "windows-os-sku-supported": lambda: containerservice.AgentPool(
        "old", resource_group_name="rg", resource_name_="aks", os_type="Windows", os_sku="Windows2019", mode="User"
    ),
    "aks-rbac": lambda: containerservice.ManagedCluster("norbac", resource_group_name="rg", enable_rbac=False),
    "containers-limited-unprivileged": lambda: deployment("mcr/app@sha256:" + "a" * 64, limits=False, privileged=True),
    "pipeline-access-namespaced": lambda: k8s.rbac.v1.ClusterRoleBinding(
        "pipeline-admin",
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"
        ),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name="azure-pipelines", namespace="musicstore-team1")],
    ),
    "azdo-least-access": lambda: azdo.CheckApproval(
        "self-approved",
        project_id="p",
        target_resource_id="1",
        target_resource_type="environment",
        approvers=["a"],
        requester_can_approve=True,
    ),
    "registry-purge-safe": lambda: purge_task("acr purge --filter 'mvcmusicstore:.*' --ago 0d --untagged"),
}


@pytest.mark.parametrize("rule", sorted(BREAKING))
def test_the_plan_reports_a_resource_that_breaks_the_rule(rule: str, recorder: Recorder) -> None:
    found = reported(check_policies(recorder(BREAKING[rule])), rule)
    assert found and all(f.severity == "error" for f in found)


def test_every_mandatory_rule_has_a_breaking_case() -> None:
    assert sorted([*BREAKING, "prod-images-by-digest"]) == sorted(MANDATORY)


def test_prod_without_a_promoted_digest_is_reported() -> None:
    plan = make_plan("prod", overrides={"promoteFromStack": "", "promoteDigest": ""})
    [finding] = reported(plan.findings, "prod-images-by-digest")
    assert finding.severity == "error" and finding.resource == "team1-app"
    assert "runs gdbcprod" in finding.message and ":develop by tag" in finding.message
    assert plan.errors


def test_a_tag_outside_prod_is_allowed(recorder: Recorder) -> None:
    assert (
        reported(check_policies(recorder(lambda: deployment("mcr/app:1.0"), stack="dev")), "prod-images-by-digest")
        == []
    )
    found = reported(check_policies(recorder(lambda: deployment("mcr/app:1.0"), stack="prod")), "prod-images-by-digest")
    assert len(found) == 1


def test_a_configured_range_is_not_the_internet(recorder: Recorder) -> None:
    assert (
        reported(check_policies(recorder(lambda: nsg_open_to("203.0.113.0/24"))), "no-remote-admin-from-internet") == []
    )
    assert reported(check_policies(recorder(lambda: nsg_open_to("0.0.0.0/0"))), "no-remote-admin-from-internet")


@pytest.mark.parametrize("stack", stack_files.stacks())
def test_the_real_stacks_pass_every_mandatory_rule(stack: str, stack_plans: dict[str, Plan]) -> None:
    assert [f for f in stack_plans[stack].findings if f.rule in MANDATORY] == []


def test_advisory_rules_warn(recorder: Recorder) -> None:
    def build() -> None:
        network.NetworkInterface(
            "nic",
            resource_group_name="rg",
            ip_configurations=[
                network.NetworkInterfaceIPConfigurationArgs(
                    name="primary", public_ip_address=network.PublicIPAddressArgs(id="/subscriptions/s/pip")
                )
            ],
        )
        k8s.core.v1.Service(
            "svc", spec=k8s.core.v1.ServiceSpecArgs(type="LoadBalancer", ports=[k8s.core.v1.ServicePortArgs(port=80)])
        )
        compute.VirtualMachine("vm", resource_group_name="rg", vm_name="vm-without-shutdown")

    found = check_policies(recorder(build))
    assert {(f.rule, f.severity) for f in found} == {
        ("vm-public-address", "warning"),
        ("service-traffic-policy-local", "warning"),
        ("agents-shut-down", "warning"),
    }


def test_the_shutdown_advice_waits_for_known_targets() -> None:
    vm = rules.Resource("azure-native:compute:VirtualMachine", "vm", "urn:pulumi:dev::p::t::vm", {"vmName": "vm1"})
    unknown = rules.Resource(
        "azure-native:devtestlab:GlobalSchedule", "s", "urn", {"status": "Enabled", "targetResourceId": None}
    )
    known = rules.Resource(
        "azure-native:devtestlab:GlobalSchedule",
        "s",
        "urn",
        {
            "status": "Enabled",
            "targetResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        },
    )
    assert list(rules.agents_shut_down([vm, unknown])) == []
    assert list(rules.agents_shut_down([vm, known])) == []
    assert [m for _, m in rules.agents_shut_down([vm])] == ["no daily auto-shutdown: it bills around the clock"]


def test_the_pack_runs_the_same_functions_at_the_same_levels() -> None:
    by_name = {p.name: p for p in pack.POLICIES}
    assert sorted(by_name) == sorted(r.name for r in rules.RULES)
    for rule in rules.RULES:
        level = by_name[rule.name].enforcement_level
        assert (level.value == "mandatory") is rule.mandatory, rule.name
    violations: list[tuple[str, str | None]] = []
    policy = by_name["aks-rbac"]
    validate = policy._ResourceValidationPolicy__validate  # type: ignore[attr-defined]
    args = SimpleNamespace(
        resource_type="azure-native:containerservice:ManagedCluster",
        name="aks",
        urn="urn:pulumi:dev::musicstore::azure-native:containerservice:ManagedCluster::aks",
        props={"enableRBAC": False},
    )
    validate(args, lambda message, urn=None: violations.append((message, urn)))
    assert violations == [("Kubernetes RBAC must be on (enableRBAC)", None)]


def test_the_pack_project_file_names_a_python_runtime() -> None:
    import yaml

    from infra.stack_files import ROOT

    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert "pulumi-policy" in (ROOT / "policy" / "requirements.txt").read_text()


def test_run_by_hand_the_pack_lists_its_rules_and_exits() -> None:
    # Without the engine, PolicyPack would serve forever: a timeout here is the old hang.
    done = subprocess.run(
        [sys.executable, "-m", "policy"], cwd="/", capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:]}
    assert listed == {rule.name for rule in rules.RULES}


def test_an_open_variable_group_breaks_azdo_least_access(recorder: Recorder) -> None:
    opened = recorder(
        lambda: azdo.VariableGroup(
            "open", project_id="p", name="musicstore", allow_access=True, variables=[{"name": "a", "value": "b"}]
        )
    )
    [found] = reported(check_policies(opened), "azdo-least-access")
    assert "open to every pipeline" in found.message and found.severity == "error"


def test_every_stack_keeps_azdo_least_access(stack_plans: dict[str, Plan]) -> None:
    checked = [
        p
        for p in stack_plans.values()
        if any(r.type.startswith("azuredevops:") for r in p.recording.resources.values())
    ]
    assert checked  # dev and the venue manage Azure DevOps
    assert all(reported(p.findings, "azdo-least-access") == [] for p in checked)


def test_an_authorisation_for_every_pipeline_breaks_azdo_least_access(recorder: Recorder) -> None:
    opened = recorder(lambda: azdo.PipelineAuthorization("all", project_id="p", resource_id="1", type="queue"))
    [found] = reported(check_policies(opened), "azdo-least-access")
    assert "authorised for every pipeline" in found.message


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("acr purge --filter 'mvcmusicstore:^[0-9]+$' --ago 0d --untagged --include-locked", "--include-locked"),
        ("acr purge --filter 'mvcmusicstore:^1' --ago 0d", "matches 1.0.0"),
        ("acr purge --ago 0d --untagged", "without --filter"),
        ("acr purge --filter 'mvcmusicstore:(' --ago 0d", "does not parse"),
    ],
    ids=["locked", "version", "no-filter", "regex"],
)
def test_a_purge_that_could_delete_what_must_stay_breaks_the_rule(command: str, said: str, recorder: Recorder) -> None:
    [found] = reported(check_policies(recorder(lambda: purge_task(command))), "registry-purge-safe")
    assert said in found.message and found.severity == "error"


def test_the_projects_purge_keeps_the_rule(recorder: Recorder) -> None:
    assert reported(check_policies(recorder(purge_task, stack="dev")), "registry-purge-safe") == []


def test_a_purge_on_prod_needs_its_own_setting(recorder: Recorder) -> None:
    [found] = reported(check_policies(recorder(purge_task, stack="prod")), "registry-purge-safe")
    assert "without its own setting (registryPurgeProd)" in found.message
    tagged = recorder(lambda: purge_task(tags={rules.PROD_PURGE_TAG: "registryPurgeProd"}), stack="prod")
    assert reported(check_policies(tagged), "registry-purge-safe") == []
    assert rules.PROD_PURGE_TAG == PROD_PURGE_TAG  # the policy folder imports nothing of the project


def test_a_registry_without_a_purge_is_advised_outside_prod(recorder: Recorder) -> None:
    def registry() -> None:
        containerregistry.Registry(
            "r",
            registry_name="gdbcdevteam1abc123",
            resource_group_name="rg",
            sku=containerregistry.SkuArgs(name="Basic"),
        )

    [found] = reported(check_policies(recorder(registry, stack="dev")), "registries-purged")
    assert found.severity == "warning" and "nothing deletes its old images" in found.message
    assert reported(check_policies(recorder(registry, stack="prod")), "registries-purged") == []
    both = recorder(lambda: (registry(), purge_task()), stack="dev")
    assert reported(check_policies(both), "registries-purged") == []


def test_the_committed_stacks_purge_every_registry_outside_prod(stack_plans: dict[str, Plan]) -> None:
    assert [f for p in stack_plans.values() for f in reported(p.findings, "registries-purged")] == []
