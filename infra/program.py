"""Wires the components into one stack and exports its outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_azuredevops as azdo
from pulumi_azure_native import resources

from components import naming, windows
from components.agent_bootstrap import AgentSettings
from components.aks_cluster import AksCluster, AksClusterArgs, WindowsPoolArgs
from components.build_agent_vm import BuildAgentVm, BuildAgentVmArgs, ShutdownArgs
from components.container_registry import ContainerRegistry, ContainerRegistryArgs, PurgeArgs
from components.image_promotion import ImagePromotion, ImagePromotionArgs
from components.music_store_app import MusicStoreApp, MusicStoreAppArgs
from components.network import Network, NetworkArgs
from components.pat_vault import PatSecret, PatVault, PatVaultArgs
from components.pipeline_access import PipelineAccess, PipelineAccessArgs
from components.registry_purge import PurgeRule, pin_tag
from components.team_devops import TeamDevOps, TeamDevOpsArgs
from infra import config
from infra.stack_config import StackConfig


def clock() -> datetime:
    return datetime.now(UTC)


# When the stack is judged against its expiresAt: now, under `pulumi up` and `pulumi preview`.
# The offline plan runs this same program at the moment it is asked for (offline/recording.py).
judged_at: Callable[[], datetime] = clock


def main() -> None:
    cfg = config.load()
    warning = cfg.expiry_warning(judged_at())  # a past expiresAt stops here
    if warning:
        pulumi.log.warn(warning)
    build(cfg)


def build(cfg: StackConfig) -> None:
    tags = cfg.tags()
    group = resources.ResourceGroup(
        "rg",
        resource_group_name=naming.resource_group_name(cfg.name_prefix, cfg.environment),
        location=cfg.location,
        tags=tags,
    )
    net = Network(
        "network",
        NetworkArgs(
            resource_group_name=group.name,
            location=group.location,
            vnet_cidr=cfg.vnet_cidr,
            rdp_source_ranges=cfg.agents.rdp_source_ranges,
            agents_outbound=cfg.agents.count > 0,
            tags=tags,
        ),
    )
    registries = {
        team: ContainerRegistry(
            f"{team}-registry",
            ContainerRegistryArgs(
                resource_group_name=group.name,
                location=group.location,
                name_prefix=cfg.name_prefix,
                environment=cfg.environment,
                team=team,
                sku=cfg.registry_sku,
                protect=cfg.protect_resources,
                tags=cfg.tags(team),
                purge=_purge(cfg),
            ),
        )
        for team in cfg.teams
    }
    pat = _pat_vault(cfg, group)
    cluster = AksCluster("aks", _cluster_args(cfg, group, net, registries))
    source = _promotion_source(cfg.promote_from_stack) if cfg.promote_from_stack else None
    images = {team: _image(cfg, team, registries[team], source) for team in cfg.teams}
    apps = {team: _app(cfg, team, images[team], cluster) for team in cfg.teams}
    devops = _devops(cfg, registries, apps, cluster)
    agents = {team: _agents(cfg, team, group, net, pat, devops.get(team)) for team in cfg.teams}

    if source is not None:
        pulumi.export(
            "promotionSource", {"stack": source.name, "registryLoginServers": source.get_output("registryLoginServers")}
        )
    pulumi.export("resourceGroupName", group.name)
    pulumi.export("clusterName", cluster.name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    # Apart from `teams`, which holds passwords, so that a StackReference reads it in clear.
    pulumi.export("registryLoginServers", {team: r.login_server for team, r in registries.items()})
    # The agents' VMs, in clear too: `musicstore up` starts them when the nightly shutdown deallocated them.
    pulumi.export("agentResourceIds", {team: [agent.resource_id for agent in agents[team]] for team in cfg.teams})
    pulumi.export(
        "teams",
        {
            team: {
                "registryName": registries[team].name,
                "registryId": registries[team].resource_id,
                "image": images[team],
                "registryLoginServer": registries[team].login_server,
                "registryAdminUsername": registries[team].admin_username,
                "registryAdminPassword": registries[team].admin_password,
                "namespace": apps[team].namespace,
                "appUrl": apps[team].url,
                "agentPool": cfg.agents.pool_for(team),
                **(_devops_outputs(devops[team]) if team in devops else {}),
                "agents": [
                    {
                        "vmName": agent.name,
                        "privateIp": agent.private_ip,
                        "adminUsername": agent.admin_username,
                        "adminPassword": agent.admin_password,
                    }
                    for agent in agents[team]
                ],
            }
            for team in cfg.teams
        },
    )


def _cluster_args(
    cfg: StackConfig, group: resources.ResourceGroup, net: Network, registries: dict[str, ContainerRegistry]
) -> AksClusterArgs:
    return AksClusterArgs(
        resource_group_name=group.name,
        location=group.location,
        cluster_name=naming.cluster_name(cfg.name_prefix, cfg.environment),
        kubernetes_version=cfg.kubernetes_version,
        sku_tier=cfg.cluster_sku_tier,
        support_plan=cfg.cluster_support_plan,
        maintenance_day=cfg.maintenance_day,
        maintenance_start=cfg.maintenance_start,
        node_subnet_id=net.subnet_ids["aks"],
        system_pool_name=cfg.system_pool_name,
        system_pool_vm_size=cfg.system_pool_vm_size,
        system_pool_count=cfg.system_pool_count,
        windows_pools={
            p.name: WindowsPoolArgs(
                vm_size=p.vm_size,
                count=p.count,
                os_sku=p.os_sku,
                max_pods=p.max_pods,
                min_count=p.min_count,
                max_count=p.max_count,
            )
            for p in cfg.windows_pools
        },
        windows_admin_username=cfg.windows_admin_username,
        network_policy=cfg.network_policy,
        pod_cidr=cfg.pod_cidr,
        service_cidr=cfg.service_cidr,
        dns_service_ip=naming.dns_service_ip(cfg.service_cidr),
        registry_ids={team: registry.resource_id for team, registry in registries.items()},
        protect=cfg.protect_resources,
        tags=cfg.tags(),
    )


def _purge(cfg: StackConfig) -> PurgeArgs | None:
    purge = cfg.registry_purge
    if purge is None:
        return None
    rule = PurgeRule(repository=cfg.app.image_repository, keep=purge.keep)
    return PurgeArgs(rule=rule, schedule=purge.schedule, on_prod=purge.prod)


def _pat_vault(cfg: StackConfig, group: resources.ResourceGroup) -> PatSecret | None:
    """The stack's one Key Vault secret with the agents' PAT, when the stack has agents."""
    if cfg.agents.count == 0 or cfg.agents.pat is None:
        return None
    vault = PatVault(
        "agent-pat",
        PatVaultArgs(
            resource_group_name=group.name,
            location=group.location,
            name_prefix=cfg.name_prefix,
            environment=cfg.environment,
            pat=pulumi.Output.secret(cfg.agents.pat.reveal()),
            tags=cfg.tags(),
        ),
    )
    return vault.secret


def _devops(
    cfg: StackConfig, registries: dict[str, ContainerRegistry], apps: dict[str, MusicStoreApp], cluster: AksCluster
) -> dict[str, TeamDevOps]:
    """Each team's Azure DevOps side, when the stack manages it: one provider for the stack,
    from the organization URL and the PAT, which stays a secret."""
    devops = cfg.devops
    if devops is None:
        return {}
    provider = azdo.Provider(
        "azdo",
        org_service_url=devops.organization_url,
        personal_access_token=pulumi.Output.secret(devops.admin_pat.reveal()),
    )
    built = {}
    for team in cfg.teams:
        access = PipelineAccess(
            f"{team}-pipeline-access",
            PipelineAccessArgs(namespace=apps[team].namespace, team=team),
            opts=pulumi.ResourceOptions(providers=[cluster.provider]),
        )
        registry = registries[team]
        built[team] = TeamDevOps(
            f"{team}-devops",
            TeamDevOpsArgs(
                team=team,
                organization_url=devops.organization_url,
                project_name=devops.project_for(team),
                existing_project=devops.existing_project,
                app_source_url=devops.app_source_url,
                toolkit_source_url=devops.toolkit_source_url,
                backend_url=devops.backend_url,
                pool_name=cfg.agents.pool_for(team),
                namespace=apps[team].namespace,
                registry_login_server=registry.login_server,
                registry_username=registry.admin_username,
                registry_password=registry.admin_password,
                api_server_url=cluster.api_server_url,
                service_account_token=access.token,
                service_account_ca_cert=access.ca_cert,
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
    return built


def _devops_outputs(devops: TeamDevOps) -> dict[str, Any]:
    return {
        "devops": {
            "projectUrl": devops.project_url,
            "repositoryUrl": devops.repository_url,
            "toolkitRepositoryUrl": devops.toolkit_url,
            "pipelineUrl": devops.pipeline_url,
            "toolkitImported": devops.toolkit_imported,
        }
    }


def _agents(
    cfg: StackConfig,
    team: str,
    group: resources.ResourceGroup,
    net: Network,
    pat: PatSecret | None,
    devops: TeamDevOps | None = None,
) -> list[BuildAgentVm]:
    agents = cfg.agents
    if agents.count == 0 or pat is None:
        return []
    shutdown = ShutdownArgs(agents.shutdown_time, agents.shutdown_time_zone) if agents.auto_shutdown else None
    built = []
    for index in range(1, agents.count + 1):
        vm = naming.vm_name(cfg.name_prefix, cfg.environment, team, index)
        built.append(
            BuildAgentVm(
                f"{team}-agent{index}",
                BuildAgentVmArgs(
                    resource_group_name=group.name,
                    location=group.location,
                    subnet_id=net.subnet_ids["agents"],
                    vm_name=vm,
                    computer_name=naming.computer_name(team, index),
                    vm_size=agents.vm_size,
                    os_disk_size_gb=agents.os_disk_size_gb,
                    image_sku=windows.AGENT_IMAGE_SKU[cfg.app.windows_version],
                    admin_username=agents.admin_username,
                    agent=AgentSettings(
                        organization_url=agents.organization_url,
                        pool=agents.pool_for(team),
                        agent_name=vm,
                        docker_version=agents.docker_version,
                        agent_version=agents.package_version,
                        images=windows.APP_BASE_IMAGES[cfg.app.windows_version],
                    ),
                    pat=pat,
                    spot=agents.spot,
                    public_ip=bool(agents.rdp_source_ranges),
                    shutdown=shutdown,
                    tags=cfg.tags(team),
                    # The agents register into the team's pool: when the stack makes it, it exists first.
                    registers_after=(devops.pool,) if devops else (),
                ),
            )
        )
    return built


def _image(
    cfg: StackConfig, team: str, registry: ContainerRegistry, source: pulumi.StackReference | None
) -> pulumi.Output[str]:
    """The image the team's app runs: promoted by digest from the source stack, or else
    the configured digest or tag in the team's own registry."""
    app = cfg.app
    if cfg.promotion is None or source is None:
        if app.image_digest and cfg.registry_purge is not None:
            return _pinned(cfg, team, registry, app.image_digest)
        return registry.login_server.apply(
            lambda server: naming.image_reference(server, app.image_repository, app.image_tag, app.image_digest)
        )
    origin = source.get_output("teams").apply(lambda teams: _source_team(teams, team))
    promoted_from = _RegistryAccess(
        origin.apply(lambda t: str(t["registryLoginServer"])),
        origin.apply(lambda t: str(t["registryAdminUsername"])),
        origin.apply(lambda t: str(t["registryAdminPassword"])),
        origin.apply(lambda t: str(t["registryId"])),
    )
    promotion = cfg.promotion
    return _promote(
        f"{team}-promotion", cfg, promotion.digest, promotion.tag, promotion.method, promoted_from, registry
    )


def _pinned(cfg: StackConfig, team: str, registry: ContainerRegistry, digest: str) -> pulumi.Output[str]:
    """The digest the app runs, tagged `pinned-<digest>` in its own registry: acr purge cannot
    spare a digest, only a tag outside its filter, and would delete the manifest once its build
    id went. The same promotion as prod's, within one registry (ACR import, else a copy of the
    manifest alone: every blob is there)."""
    own = _RegistryAccess(registry.login_server, registry.admin_username, registry.admin_password, registry.resource_id)
    return _promote(f"{team}-pin", cfg, digest, pin_tag(digest), "auto", own, registry)


@dataclass(frozen=True)
class _RegistryAccess:
    """Where a promotion reads the image: the registry's login server, admin credentials and id."""

    server: pulumi.Input[str]
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    registry_id: pulumi.Input[str]


def _promote(
    name: str,
    cfg: StackConfig,
    digest: str,
    tag: str,
    method: str,
    source: _RegistryAccess,
    target: ContainerRegistry,
) -> pulumi.Output[str]:
    """The app's image copied by digest from `source` into the team's registry, tagged `tag`."""
    promotion = ImagePromotion(
        name,
        ImagePromotionArgs(
            repository=cfg.app.image_repository,
            digest=digest,
            tag=tag,
            method=method,
            source_server=source.server,
            source_username=source.username,
            source_password=source.password,
            source_registry_id=source.registry_id,
            target_server=target.login_server,
            target_username=target.admin_username,
            target_password=target.admin_password,
            target_registry_id=target.resource_id,
        ),
    )
    return promotion.image


def _source_team(teams: Any, team: str) -> dict[str, Any]:
    if not isinstance(teams, dict) or team not in teams:
        raise ValueError(f"the stack promoted from has no team {team}: teams must match between the stacks")
    return dict(teams[team])


def _app(cfg: StackConfig, team: str, image: pulumi.Output[str], cluster: AksCluster) -> MusicStoreApp:
    secret = cfg.database.connection_string
    return MusicStoreApp(
        f"{team}-app",
        MusicStoreAppArgs(
            namespace=naming.namespace_name(team),
            team=team,
            image=image,
            os_sku=cfg.app.os_sku,
            replicas=cfg.app.replicas,
            await_rollout=cfg.app.await_rollout,
            connection_string=pulumi.Output.secret(secret.reveal()) if secret else None,
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.provider]),
    )


def _promotion_source(source: str) -> pulumi.StackReference:
    """The stack images are promoted from, read through its outputs."""
    name = source if source.count("/") == 2 else f"{pulumi.get_organization()}/{pulumi.get_project()}/{source}"
    return pulumi.StackReference(f"promote-from-{source.split('/')[-1]}", stack_name=name)
