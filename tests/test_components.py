"""Each component built alone under the recording mocks, one behaviour a test."""

from __future__ import annotations

from typing import Any
from unittest import mock

from components.aks_cluster import AksCluster, WindowsPoolArgs
from components.container_registry import ContainerRegistry, ContainerRegistryArgs
from components.music_store_app import MusicStoreApp, MusicStoreAppArgs
from components.naming import ACR_PULL_ROLE
from components.network import Network, NetworkArgs
from components.pat_vault import PatVault, PatVaultArgs
from offline import recording
from tests.conftest import Recorder
from tests.support.builders import REGISTRY_ID, cluster_args


def test_registry_has_admin_user_and_secret_password(recorder: Recorder) -> None:
    def build() -> None:
        ContainerRegistry(
            "red-registry",
            ContainerRegistryArgs(
                "rg", "westeurope", name_prefix="gdbc", environment="dev", team="red", sku="Standard"
            ),
        )

    rec = recorder(build)
    registry = rec.one("azure-native:containerregistry:Registry")
    assert registry.plain("adminUserEnabled") is True
    assert registry.plain("sku.name") == "Standard"
    assert registry.plain("registryName").startswith("gdbcdevred")
    component = rec.one("musicstore:azure:ContainerRegistry")
    assert recording.mask(component.outputs)["admin_password"] == recording.SECRET_MARKER


def test_autoscaled_windows_pool_leaves_the_count_to_the_autoscaler(recorder: Recorder) -> None:
    rec = recorder(
        lambda: AksCluster(
            "aks",
            cluster_args(
                fixed=WindowsPoolArgs("Standard_D4s_v3", 1, "Windows2022", 30),
                auto=WindowsPoolArgs("Standard_D4s_v3", 2, "Windows2022", 30, min_count=1, max_count=3),
            ),
        )
    )
    pools = {p.plain("agentPoolName"): p for p in rec.of_type("azure-native:containerservice:AgentPool")}
    assert pools["auto"].ignore_changes == ["count"] and pools["auto"].plain("enableAutoScaling") is True
    assert pools["fixed"].ignore_changes == [] and pools["fixed"].plain("enableAutoScaling") is False


def test_windows_pools_are_keyed_by_their_name(recorder: Recorder) -> None:
    rec = recorder(
        lambda: AksCluster("aks", cluster_args(win25=WindowsPoolArgs("Standard_D4s_v3", 1, "Windows2025", 30)))
    )
    pool = rec.one("azure-native:containerservice:AgentPool")
    assert pool.name == "aks-win25"
    assert pool.plain("osSKU") == "Windows2025" and pool.plain("enableFIPS") is True


def test_kubelet_identity_gets_acr_pull_on_each_registry(recorder: Recorder) -> None:
    rec = recorder(lambda: AksCluster("aks", cluster_args()))
    cluster = rec.one("azure-native:containerservice:ManagedCluster")
    [grant] = [r for r in rec.of_type("azure-native:authorization:RoleAssignment") if "-acrpull-" in r.name]
    assert grant.name == "aks-acrpull-red"
    assert grant.plain("principalId") == cluster.state["identityProfile"]["kubeletidentity"]["objectId"]
    assert grant.plain("principalType") == "ServicePrincipal"
    assert grant.plain("scope") == REGISTRY_ID
    assert (
        grant.plain("roleDefinitionId")
        == f"/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL_ROLE}"
    )


def test_kubernetes_provider_survives_a_deleted_cluster_and_keeps_kubeconfig_secret(recorder: Recorder) -> None:
    rec = recorder(lambda: AksCluster("aks", cluster_args()))
    provider = rec.one("pulumi:providers:kubernetes")
    assert provider.plain("deleteUnreachable") is None  # only the teardown sets it
    assert provider.masked_inputs()["kubeconfig"] == recording.SECRET_MARKER
    assert "kind: Config" in provider.plain("kubeconfig")


def test_app_deploys_by_digest_on_matching_windows_nodes(recorder: Recorder) -> None:
    image = "r1.azurecr.io/mvcmusicstore@sha256:" + "b" * 64
    rec = recorder(
        lambda: MusicStoreApp(
            "red-app",
            MusicStoreAppArgs(namespace="musicstore-red", team="red", image=image, os_sku="Windows2025", replicas=2),
        )
    )
    app = next(d for d in rec.of_type("kubernetes:apps/v1:Deployment") if d.name == "red-app")
    pod = app.plain("spec.template.spec")
    assert pod["containers"][0]["image"] == image
    assert pod["nodeSelector"] == {"kubernetes.io/os": "windows", "kubernetes.azure.com/os-sku": "Windows2025"}
    assert app.plain("spec.replicas") == 2
    assert app.custom_timeouts == {"create": "30m", "update": "30m"}
    container = pod["containers"][0]
    assert container["resources"]["limits"] and container["readinessProbe"] and container["livenessProbe"]


def test_external_database_skips_the_in_cluster_sql_server(recorder: Recorder) -> None:
    import pulumi

    rec = recorder(
        lambda: MusicStoreApp(
            "red-app",
            MusicStoreAppArgs(
                namespace="musicstore-red",
                team="red",
                image="r1.azurecr.io/mvcmusicstore:1.0.0",
                os_sku="Windows2022",
                replicas=1,
                connection_string=pulumi.Output.secret("Server=db;Password=external"),
            ),
        )
    )
    assert rec.of_type("musicstore:k8s:SqlServer") == []
    secret = rec.one("kubernetes:core/v1:Secret")
    assert "external" not in " ".join(recording.clear_strings(secret.inputs))
    assert secret.plain("stringData.MusicStoreEntities") == "Server=db;Password=external"


def test_network_splits_subnets_from_the_address_space(recorder: Recorder) -> None:
    rec = recorder(lambda: Network("network", NetworkArgs("rg", "westeurope", vnet_cidr="10.40.0.0/20")))
    subnets = {s.plain("subnetName"): s.plain("addressPrefix") for s in rec.of_type("azure-native:network:Subnet")}
    assert subnets == {"aks": "10.40.0.0/22", "agents": "10.40.4.0/22"}


def test_the_control_plane_may_manage_the_node_subnet_before_the_cluster_exists(recorder: Recorder) -> None:
    rec = recorder(lambda: AksCluster("aks", cluster_args()))
    identity = rec.one("azure-native:managedidentity:UserAssignedIdentity")
    cluster = rec.one("azure-native:containerservice:ManagedCluster")
    [grant] = [
        r
        for r in rec.of_type("azure-native:authorization:RoleAssignment")
        if r.name.endswith("-subnet-network-contributor")
    ]
    assert grant.plain("scope") == cluster_args().node_subnet_id
    assert grant.plain("roleDefinitionId").endswith("/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7")
    assert grant.plain("principalId") == identity.state["principalId"]
    assert grant.urn in cluster.dependencies
    assert cluster.plain("identity") == {"type": "UserAssigned", "userAssignedIdentities": [identity.state["id"]]}
    assert identity.state["id"] in cluster.state["identity"]["userAssignedIdentities"]


def test_the_pat_vault_keeps_the_pat_secret_in_its_inputs_and_in_the_state(recorder: Recorder) -> None:
    import pulumi

    secret_outputs: dict[str, list[str]] = {}
    original = recording.RecordingMonitor.RegisterResource

    def noting(self: recording.RecordingMonitor, request: Any) -> Any:
        secret_outputs[request.name] = list(request.additionalSecretOutputs)
        return original(self, request)

    def build() -> None:
        args = PatVaultArgs("rg", "westeurope", name_prefix="gdbc", environment="dev", pat=pulumi.Output.secret("p4t"))
        PatVault("agent-pat", args)

    with mock.patch.object(recording.RecordingMonitor, "RegisterResource", noting):
        rec = recorder(build)
    secret = rec.one("azure-native:keyvault:Secret")
    assert "p4t" not in " ".join(recording.clear_strings(secret.inputs))
    # Azure never returns the value, but the provider keeps what it sent among the outputs.
    assert secret_outputs[secret.name] == ["properties"]
    # What the agents' extension is keyed on is the version URI, which reveals nothing.
    version = recording.mask(rec.one("musicstore:azure:PatVault").outputs)["secret_version"]
    assert version.startswith("https://kv-gdbc-dev-") and "/secrets/azdo-agent-pat/" in version
