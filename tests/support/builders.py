"""Builders the tests share: a dev config to vary, and the arguments of a small cluster."""

from __future__ import annotations

from components.aks_cluster import AksClusterArgs, WindowsPoolArgs
from infra.config import offline_files, parse

REGISTRY_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r1"
FILES = offline_files("dev")
DEV = {k.split(":", 1)[1]: v for k, v in FILES.values.items()}
DEV_SECRETS = frozenset(k.split(":", 1)[1] for k in FILES.secret_keys)


def parse_dev(overrides: dict[str, str], *, stack: str = "dev", secrets: frozenset[str] = DEV_SECRETS) -> object:
    """The dev stack's config with `overrides`, parsed."""
    return parse({**DEV, **overrides}, stack=stack, secret_keys=secrets)


def cluster_args(**pools: WindowsPoolArgs) -> AksClusterArgs:
    return AksClusterArgs(
        resource_group_name="rg",
        location="westeurope",
        cluster_name="gdbc-test-aks",
        kubernetes_version="1.36",
        sku_tier="Free",
        node_subnet_id="/subscriptions/s1/subnets/aks",
        system_pool_name="system",
        system_pool_vm_size="Standard_D2s_v5",
        system_pool_count=1,
        windows_pools=pools or {"win22": WindowsPoolArgs("Standard_D4s_v5", 1, "Windows2022", 30)},
        windows_admin_username="gdbcadmin",
        network_policy="calico",
        pod_cidr="192.168.0.0/16",
        service_cidr="10.0.0.0/16",
        dns_service_ip="10.0.0.10",
        registry_ids={"red": REGISTRY_ID},
    )
