"""AksCluster: AKS with a Linux system pool and Windows user pools that pull from ACR."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization, containerservice, managedidentity

from components.naming import ACR_PULL_ROLE, NETWORK_CONTRIBUTOR_ROLE, role_definition_id, stable_tags
from components.passwords import generated_password


@dataclass(frozen=True)
class WindowsPoolArgs:
    vm_size: str
    count: int
    os_sku: str
    max_pods: int
    min_count: int | None = None
    max_count: int | None = None


@dataclass(frozen=True, kw_only=True)
class AksClusterArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    cluster_name: str
    kubernetes_version: str
    sku_tier: str
    support_plan: str = "KubernetesOfficial"
    # AKS's weekly upgrade window (UTC): a day and HH:MM, four hours long.
    maintenance_day: str = "Sunday"
    maintenance_start: str = "08:00"
    node_subnet_id: pulumi.Input[str]
    system_pool_name: str
    system_pool_vm_size: str
    system_pool_count: int
    windows_pools: Mapping[str, WindowsPoolArgs]
    windows_admin_username: str
    network_policy: str
    pod_cidr: str
    service_cidr: str
    dns_service_ip: str
    # Registries the kubelet may pull from, keyed by a stable name (the team).
    registry_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    protect: bool = False  # refuse deletion of the cluster (prod)
    tags: dict[str, str] = field(default_factory=dict)


class AksCluster(pulumi.ComponentResource):
    """Builds the ManagedCluster (system pool inline, Windows profile set at creation, Azure
    CNI overlay, managed identity, Kubernetes RBAC, patch auto-upgrade), one AgentPool per
    Windows pool, AcrPull for the kubelet identity on each registry, and a Kubernetes provider
    from the admin kubeconfig. Outputs the name, resource id and kubeconfig (a secret).

    The pool layout, chosen so that a later change to the cluster never goes through a pool:
    - The system pool is the only inline profile: AKS takes no cluster without one, and a
      cluster PUT may not add a pool ("A new agent pool was introduced", pulumi-azure-native
      #579), so every Windows pool is its own AgentPool, added and removed by the agent pool API.
    - No `ignore_changes` on `agentPoolProfiles`: with it the engine re-sends the old inputs,
      which a refresh has filled with every pool AKS reports (the provider's Read copies what
      changed in Azure into the inputs, provider/pkg/provider/provider.go); once one of them is
      deleted, the next cluster change is refused (pulumi-azure-native#2719, #1532). Without
      it, a cluster PUT names the system pool only, and AKS leaves the other pools as they are.
    - Nothing that changes during a stack's life reaches a pool: pools carry the stable tags
      only (`naming.stable_tags`: not `expires-at`, which moves when a session is extended).
    - Versions: with `kubernetesVersion` MAJOR.MINOR (the default), cluster and pools ask for
      MAJOR.MINOR, which AKS resolves to its newest patch and never upgrades on an update with
      the same MAJOR.MINOR (AKS API, orchestratorVersion); the `patch` auto-upgrade channel then
      brings new patches to control plane and nodes, in the maintenance window, with no `up`.
      A pinned MAJOR.MINOR.PATCH turns the channel off and is the pools' version too: a pool
      asking for MAJOR.MINOR would get AKS's newest patch, above the pinned control plane, which
      AKS refuses. Bumping the pin upgrades the pools by their own AgentPool updates, never
      through the cluster.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    api_server_url: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:azure:AksCluster", name, None, opts)
        subnet_grant = self._grant_subnet(name, args)
        cluster = self._create_cluster(name, args, subnet_grant)
        self._schedule_upgrades(name, args, cluster)
        self.pools = self._create_windows_pools(name, args, cluster)
        self._grant_acr_pull(name, args.registry_ids, cluster)
        self.name = cluster.name
        self.resource_id = cluster.id
        self.api_server_url = cluster.fqdn.apply(lambda fqdn: f"https://{fqdn}:443")
        self.kubeconfig = self._admin_kubeconfig(args, cluster)
        # No deleteUnreachable here: with it on, a refresh while the API server is briefly
        # unreachable drops every Kubernetes object from the state, and the next `up` collides
        # with the objects that still exist. The teardown sets PULUMI_K8S_DELETE_UNREACHABLE for
        # its destroy instead, which the provider reads then (pulumi-kubernetes#2489).
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.pools.values())),
        )
        self.register_outputs({"name": self.name, "resource_id": self.resource_id, "kubeconfig": self.kubeconfig})

    def _grant_subnet(self, name: str, args: AksClusterArgs) -> authorization.RoleAssignment:
        """The control plane's own identity, Network Contributor on the nodes' subnet. The Azure
        CLI assigns that role when it creates a cluster in an existing subnet; ARM, hence
        Pulumi, does not, and a system-assigned identity exists only once the cluster does. So a
        user-assigned identity is made first and granted the role before the cluster exists."""
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=f"id-{args.cluster_name}",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return authorization.RoleAssignment(
            f"{name}-subnet-network-contributor",
            principal_id=self.identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=pulumi.Output.from_input(args.node_subnet_id).apply(
                lambda sid: role_definition_id(sid, NETWORK_CONTRIBUTOR_ROLE)
            ),
            scope=args.node_subnet_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_cluster(
        self, name: str, args: AksClusterArgs, subnet_grant: authorization.RoleAssignment
    ) -> containerservice.ManagedCluster:
        # AKS takes the Windows profile only at creation: a cluster made without it can
        # never get a Windows pool, so it is always set, with a generated password.
        password = generated_password(f"{name}-windows-password", self)
        return containerservice.ManagedCluster(
            name,
            resource_name_=args.cluster_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=args.cluster_name,
            kubernetes_version=args.kubernetes_version,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier=args.sku_tier),
            support_plan=args.support_plan,
            auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=upgrade_channel(args.kubernetes_version),
                node_os_upgrade_channel="NodeImage",
            ),
            identity=containerservice.ManagedClusterIdentityArgs(
                type="UserAssigned", user_assigned_identities=[self.identity.id]
            ),
            enable_rbac=True,
            agent_pool_profiles=[
                containerservice.ManagedClusterAgentPoolProfileArgs(
                    name=args.system_pool_name,
                    mode="System",
                    os_type="Linux",
                    type="VirtualMachineScaleSets",
                    vm_size=args.system_pool_vm_size,
                    count=args.system_pool_count,
                    vnet_subnet_id=args.node_subnet_id,
                )
            ],
            windows_profile=containerservice.ManagedClusterWindowsProfileArgs(
                admin_username=args.windows_admin_username,
                admin_password=password,
            ),
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_policy=None if args.network_policy == "none" else args.network_policy,
                pod_cidr=args.pod_cidr,
                service_cidr=args.service_cidr,
                dns_service_ip=args.dns_service_ip,
                load_balancer_sku="standard",
            ),
            tags=args.tags,
            # The username can never change after creation; Azure does not return the
            # password, so neither may cause a diff. The engine re-marks an output secret only
            # under a top-level key whose input was a secret, and the password sits inside
            # windowsProfile: without additional_secret_outputs the state holds it in clear.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                ignore_changes=["windowsProfile.adminPassword"],
                additional_secret_outputs=["windowsProfile"],
                depends_on=[subnet_grant],
            ),
        )

    def _schedule_upgrades(self, name: str, args: AksClusterArgs, cluster: containerservice.ManagedCluster) -> None:
        """The auto-upgrade channels act only inside the window: without one, AKS may drain and
        reimage the Windows nodes in the middle of a session."""
        window = containerservice.MaintenanceWindowArgs(
            schedule=containerservice.ScheduleArgs(
                weekly=containerservice.WeeklyScheduleArgs(day_of_week=args.maintenance_day, interval_weeks=1)
            ),
            duration_hours=4,
            start_time=args.maintenance_start,
            utc_offset="+00:00",
        )
        for role, config_name in (
            ("upgrades", "aksManagedAutoUpgradeSchedule"),
            ("node-os", "aksManagedNodeOSUpgradeSchedule"),
        ):
            containerservice.MaintenanceConfiguration(
                f"{name}-{role}-window",
                config_name=config_name,
                resource_group_name=args.resource_group_name,
                resource_name_=cluster.name,
                maintenance_window=window,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _create_windows_pools(
        self, name: str, args: AksClusterArgs, cluster: containerservice.ManagedCluster
    ) -> dict[str, containerservice.AgentPool]:
        pools = {}
        for pool_name, pool in args.windows_pools.items():
            autoscaling = pool.min_count is not None
            pools[pool_name] = containerservice.AgentPool(
                f"{name}-{pool_name}",
                agent_pool_name=pool_name,
                resource_name_=cluster.name,
                resource_group_name=args.resource_group_name,
                mode="User",
                os_type="Windows",
                os_sku=pool.os_sku,
                # Microsoft's page lists the FIPS image as required for Windows2025; the
                # stricter reading is the rule until that is settled.
                enable_fips=True if pool.os_sku == "Windows2025" else None,
                orchestrator_version=args.kubernetes_version,
                type="VirtualMachineScaleSets",
                vm_size=pool.vm_size,
                count=pool.count,
                enable_auto_scaling=autoscaling,
                min_count=pool.min_count,
                max_count=pool.max_count,
                max_pods=pool.max_pods,
                vnet_subnet_id=args.node_subnet_id,
                tags=stable_tags(args.tags),
                # The autoscaler owns the node count; a later update must not reset it.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"] if autoscaling else None),
            )
        return pools

    def _grant_acr_pull(
        self, name: str, registry_ids: Mapping[str, pulumi.Input[str]], cluster: containerservice.ManagedCluster
    ) -> None:
        kubelet_object_id = cluster.identity_profile.apply(_kubelet_object_id)
        for key, registry_id in registry_ids.items():
            authorization.RoleAssignment(
                f"{name}-acrpull-{key}",
                principal_id=kubelet_object_id,
                principal_type="ServicePrincipal",
                role_definition_id=pulumi.Output.from_input(registry_id).apply(
                    lambda rid: role_definition_id(rid, ACR_PULL_ROLE)
                ),
                scope=registry_id,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _admin_kubeconfig(self, args: AksClusterArgs, cluster: containerservice.ManagedCluster) -> pulumi.Output[str]:
        credentials = containerservice.list_managed_cluster_admin_credentials_output(
            resource_group_name=args.resource_group_name,
            resource_name=cluster.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return pulumi.Output.secret(credentials.apply(_first_kubeconfig))


def upgrade_channel(kubernetes_version: str) -> str:
    """`patch` for a MAJOR.MINOR version: AKS keeps control plane and nodes on its newest patch.
    `none` for a pinned patch: the channel would move the cluster past the pin, and the next
    `up` would ask AKS for a downgrade, which it refuses."""
    return "patch" if kubernetes_version.count(".") == 1 else "none"


def _kubelet_object_id(profile: Mapping[str, object] | None) -> str:
    identity = (profile or {}).get("kubeletidentity")
    object_id = getattr(identity, "object_id", None)
    if object_id is None:
        raise ValueError("the cluster reports no kubelet identity (identityProfile.kubeletidentity)")
    return str(object_id)


def _first_kubeconfig(credentials: containerservice.ListManagedClusterAdminCredentialsResult) -> str:
    kubeconfigs: Sequence[containerservice.outputs.CredentialResultResponse] = credentials.kubeconfigs or []
    if not kubeconfigs:
        raise ValueError("AKS returned no admin kubeconfig")
    return base64.b64decode(kubeconfigs[0].value or "").decode()
