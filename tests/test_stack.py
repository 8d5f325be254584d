"""The real program on the real Pulumi.dev.yaml and Pulumi.prod.yaml."""

from __future__ import annotations

import re

import pytest

from components.naming import ACR_PULL_ROLE
from infra import stack_files
from offline import recording
from offline.mocks import SECRET_MARK
from offline.plan import Plan
from tests.conftest import stack_config

STACKS = ["dev", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_one_registry_per_team_with_admin_user(stack: str, stack_runs: dict[str, recording.Recording]) -> None:
    rec, cfg = stack_runs[stack], stack_config(stack)
    registries = rec.of_type("azure-native:containerregistry:Registry")
    assert len(registries) == len(cfg.teams) == 1
    assert registries[0].plain("adminUserEnabled") is True
    assert registries[0].plain("sku.name") == cfg.registry_sku


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_has_linux_system_pool_windows_profile_and_azure_cni(
    stack: str, stack_runs: dict[str, recording.Recording]
) -> None:
    rec, cfg = stack_runs[stack], stack_config(stack)
    cluster = rec.one("azure-native:containerservice:ManagedCluster")
    [system] = cluster.plain("agentPoolProfiles")
    assert (system["mode"], system["osType"], system["count"]) == ("System", "Linux", cfg.system_pool_count)
    assert cluster.plain("windowsProfile.adminUsername") == cfg.windows_admin_username
    assert cluster.plain("windowsProfile.adminPassword")
    assert cluster.plain("networkProfile.networkPlugin") == "azure"
    assert cluster.plain("networkProfile.networkPluginMode") == "overlay"
    assert cluster.plain("enableRBAC") is True
    assert cluster.plain("identity.type") == "UserAssigned"  # granted on the subnet before it exists
    assert cluster.plain("sku.tier") == cfg.cluster_sku_tier


@pytest.mark.parametrize("stack", STACKS)
def test_windows_pools_are_user_pools_with_short_names(stack: str, stack_runs: dict[str, recording.Recording]) -> None:
    rec, cfg = stack_runs[stack], stack_config(stack)
    pools = {p.plain("agentPoolName"): p for p in rec.of_type("azure-native:containerservice:AgentPool")}
    assert set(pools) == {p.name for p in cfg.windows_pools}
    for spec in cfg.windows_pools:
        pool = pools[spec.name]
        # AKS: Windows pool names are at most 6 lowercase letters and digits, starting with a letter.
        assert re.fullmatch(r"[a-z][a-z0-9]{0,5}", pool.plain("agentPoolName"))
        assert (pool.plain("osType"), pool.plain("mode"), pool.plain("osSKU")) == ("Windows", "User", spec.os_sku)
        assert pool.plain("count") == spec.count
        assert pool.plain("enableAutoScaling") is spec.autoscaling


@pytest.mark.parametrize("stack", STACKS)
def test_kubelet_identity_may_pull_from_the_registry(stack: str, stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs[stack]
    cluster = rec.one("azure-native:containerservice:ManagedCluster")
    registry = rec.one("azure-native:containerregistry:Registry")
    [grant] = [r for r in rec.of_type("azure-native:authorization:RoleAssignment") if "-acrpull-" in r.name]
    assert grant.plain("principalId") == cluster.state["identityProfile"]["kubeletidentity"]["objectId"]
    assert grant.plain("scope") == registry.state["id"]
    assert grant.plain("roleDefinitionId").endswith(f"/roleDefinitions/{ACR_PULL_ROLE}")


@pytest.mark.parametrize("stack", STACKS)
def test_app_runs_on_windows_nodes_behind_a_load_balancer(
    stack: str, stack_runs: dict[str, recording.Recording]
) -> None:
    rec, cfg = stack_runs[stack], stack_config(stack)
    registry = rec.one("azure-native:containerregistry:Registry")
    app = next(d for d in rec.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-app"))
    pod = app.plain("spec.template.spec")
    assert pod["nodeSelector"]["kubernetes.io/os"] == "windows"
    assert pod["nodeSelector"]["kubernetes.azure.com/os-sku"] == cfg.app.os_sku
    assert pod["containers"][0]["image"].startswith(registry.state["loginServer"] + "/" + cfg.app.image_repository)
    assert app.plain("spec.replicas") == cfg.app.replicas
    service = next(s for s in rec.of_type("kubernetes:core/v1:Service") if s.name.endswith("-app"))
    assert service.plain("spec.type") == "LoadBalancer"
    assert service.plain("spec.externalTrafficPolicy") == "Local"
    assert rec.outputs()["teams"]["team1"]["appUrl"].startswith("http://")


def test_prod_differs_from_dev_only_where_its_file_says() -> None:
    dev, prod = stack_config("dev"), stack_config("prod")
    assert (dev.app.replicas, prod.app.replicas) == (1, 2)
    assert prod.windows_pools[0].autoscaling and not dev.windows_pools[0].autoscaling
    assert prod.vnet_cidr != dev.vnet_cidr


# What marks a secret offline: a generated value, or the placeholder of a `secure:` config value
# (the agents' PAT, an external connection string).
SECRET_MARKS = (SECRET_MARK, stack_files.PLACEHOLDER.split("{", 1)[0])


# venue-ams too: its 30 teams' Azure DevOps connections and provider carry the PAT, the registry
# passwords and the service-account tokens.
@pytest.mark.parametrize("stack", [*STACKS, "venue-ams"])
def test_no_secret_appears_in_clear(stack: str, stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs[stack]
    leaks = [
        (r.type, r.name, s)
        for r in rec.resources.values()
        for s in recording.clear_strings(r.inputs)
        if any(mark in s for mark in SECRET_MARKS)
    ]
    leaks += [
        ("stack output", "", s)
        for s in recording.clear_strings(rec.stack_outputs)
        if any(mark in s for mark in SECRET_MARKS)
    ]
    assert leaks == []


@pytest.mark.parametrize("stack", STACKS)
def test_each_secret_exists_and_is_wrapped(stack: str, stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs[stack]
    masked = recording.mask(rec.stack_outputs)
    assert masked["kubeconfig"] == recording.SECRET_MARKER
    assert SECRET_MARK in rec.outputs()["kubeconfig"]
    assert masked["teams"]["team1"]["registryAdminPassword"] == recording.SECRET_MARKER
    assert SECRET_MARK in rec.outputs()["teams"]["team1"]["registryAdminPassword"]
    cluster = rec.one("azure-native:containerservice:ManagedCluster")
    assert cluster.masked_inputs()["windowsProfile"]["adminPassword"] == recording.SECRET_MARKER
    secrets = {s.name: s for s in rec.of_type("kubernetes:core/v1:Secret")}
    connection_secret = secrets["team1-app-db"]
    assert recording.mask(connection_secret.inputs)["stringData"] == recording.SECRET_MARKER
    connection = connection_secret.plain("stringData.MusicStoreEntities")
    if stack_config(stack).database.mode == "in-cluster":
        sql_password = secrets["team1-app-sql-sa"].plain("stringData.MSSQL_SA_PASSWORD")
        assert SECRET_MARK in sql_password and sql_password in connection
        assert "Initial Catalog=MvcMusicStore" in connection
    else:  # the secret config value, here the offline placeholder of its `secure:` entry
        assert connection == stack_files.PLACEHOLDER.format(key="musicstore:databaseConnectionString")


def test_the_leak_check_finds_a_secret_in_clear() -> None:
    wrapped = {recording.SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "hidden"}
    assert list(recording.clear_strings({"a": wrapped, "b": ["shown"]})) == ["shown"]


def test_external_connection_string_stays_secret() -> None:
    rec = recording.run(
        "dev",
        overrides={"databaseMode": "external"},
        secret_overrides={"databaseConnectionString": f"Server=db;Password={SECRET_MARK}external"},
    )
    assert rec.of_type("musicstore:k8s:SqlServer") == []
    assert not [s for r in rec.resources.values() for s in recording.clear_strings(r.inputs) if SECRET_MARK in s]
    [secret] = [s for s in rec.of_type("kubernetes:core/v1:Secret") if s.name.endswith("-app-db")]
    assert secret.plain("stringData.MusicStoreEntities").endswith("external")


def test_prod_deploys_the_promoted_digest_never_a_tag(stack_runs: dict[str, recording.Recording]) -> None:
    rec, cfg = stack_runs["prod"], stack_config("prod")
    assert cfg.promotion is not None
    registry = rec.one("azure-native:containerregistry:Registry")
    app = next(d for d in rec.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-app"))
    image = app.plain("spec.template.spec.containers.0.image")
    assert image == f"{registry.state['loginServer']}/{cfg.app.image_repository}@{cfg.promotion.digest}"
    assert ":" not in image.split("@")[0].split("/")[-1]
    promotion = rec.one("pulumi-python:dynamic:Resource")
    assert (promotion.plain("digest"), promotion.plain("tag")) == (cfg.promotion.digest, cfg.promotion.tag)
    assert promotion.urn in app.dependencies
    assert promotion.masked_inputs()["sourcePassword"] == recording.SECRET_MARKER
    assert promotion.masked_inputs()["targetPassword"] == recording.SECRET_MARKER


def test_prod_promotes_from_dev_registry_of_the_same_team(stack_plans: dict[str, Plan]) -> None:
    promotion = stack_plans["prod"].recording.one("pulumi-python:dynamic:Resource")
    dev_team = stack_plans["dev"].recording.outputs()["teams"]["team1"]
    assert promotion.plain("sourceServer") == dev_team["registryLoginServer"]
    assert promotion.plain("sourceRegistryId") == dev_team["registryId"]


@pytest.mark.parametrize("stack", stack_files.stacks())
def test_a_stack_whose_agents_build_the_image_does_not_wait_for_it(
    stack: str, stack_runs: dict[str, recording.Recording]
) -> None:
    # dev and the venues build their first images on their own agents after `pulumi up`; prod
    # deploys a promoted digest that exists before its `up`, and waits for it to run.
    builds_its_own = stack_config(stack).agents.count > 0
    apps = [d for d in stack_runs[stack].of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-app")]
    assert apps
    for app in apps:
        annotations = app.plain("metadata.annotations") or {}
        assert ("pulumi.com/skipAwait" in annotations) is builds_its_own, app.name
    assert stack_config(stack).app.await_rollout is not builds_its_own
