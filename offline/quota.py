"""The stack's demand on the subscription's regional quotas, against the limits in config.

Counted: vCPUs per VM family and in total (agents, AKS nodes at their autoscaler maximum,
plus the surge node AKS adds per pool during an upgrade), Spot vCPUs apart (they have their
own low-priority quota), public addresses (our own, the cluster's outbound one, one per
LoadBalancer Service) and registries; and whether the Windows pools can hold every app and
the Linux pools every SQL Server.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from infra.stack_config import StackConfig
from offline.findings import Finding
from offline.prices import VM_SIZES
from offline.recording import Recording

# A Windows node keeps about half a vCPU for the OS, kubelet and containerd.
WINDOWS_NODE_RESERVED_CPU = 0.5
UPGRADE_SURGE_NODES = 1
# What of a Linux node's memory pods cannot have: AKS's kube-reserved (from 1.29, 20 MiB per pod
# of maxPods plus 50 MiB; learn.microsoft.com/azure/aks/node-resource-reservations), the
# 100 MiB eviction threshold, and the requests of AKS's own pods on each node (CoreDNS, the
# metrics server, konnectivity, the CSI and network daemons): about 1.5 GiB together.
LINUX_NODE_RESERVED_GIB = 1.5


@dataclass(frozen=True)
class Demand:
    quota: str
    needed: int
    limit: int
    key: str  # the config key of the limit
    parts: tuple[str, ...]

    @property
    def exceeded(self) -> bool:
        return self.needed > self.limit


def demands(rec: Recording, cfg: StackConfig) -> tuple[list[Demand], list[Finding]]:
    q = cfg.quotas
    by_family: dict[str, int] = defaultdict(int)
    parts: dict[str, list[str]] = defaultdict(list)
    spot, spot_parts, unknown = 0, [], []

    def add(size: str, count: int, what: str, is_spot: bool = False) -> None:
        nonlocal spot
        known = VM_SIZES.get(size)
        if known is None:
            unknown.append(Finding("warning", "quota-unknown-vm-size", what, f"{size} is not in the VM size table"))
            return
        if is_spot:
            spot += known.vcpus * count
            spot_parts.append(f"{what}: {count} x {known.vcpus}")
        else:
            by_family[known.family] += known.vcpus * count
            parts[known.family].append(f"{what}: {count} x {known.vcpus}")

    for vm in rec.of_type("azure-native:compute:VirtualMachine"):
        add(vm.plain("hardwareProfile.vmSize") or "", 1, vm.name, vm.plain("priority") == "Spot")
    for cluster in rec.of_type("azure-native:containerservice:ManagedCluster"):
        for pool in cluster.plain("agentPoolProfiles") or []:
            add(
                pool.get("vmSize", ""),
                int(pool.get("count", 1)) + UPGRADE_SURGE_NODES,
                f"{cluster.name}/{pool.get('name')}",
            )
    for pool in rec.of_type("azure-native:containerservice:AgentPool"):
        nodes = max(int(pool.plain("count") or 0), int(pool.plain("maxCount") or 0)) + UPGRADE_SURGE_NODES
        add(pool.plain("vmSize") or "", nodes, pool.name)

    found = [
        Demand(f"vCPUs {family}", n, q.family_vcpus, "quotaFamilyVcpus", tuple(sorted(parts[family])))
        for family, n in sorted(by_family.items())
    ]
    found.append(Demand("vCPUs in the region", sum(by_family.values()), q.regional_vcpus, "quotaRegionalVcpus", ()))
    if spot:
        found.append(
            Demand("Spot vCPUs in the region", spot, q.spot_vcpus, "quotaSpotVcpus", tuple(sorted(spot_parts)))
        )
    addresses = (
        len(rec.of_type("azure-native:network:PublicIPAddress"))
        + len(rec.of_type("azure-native:containerservice:ManagedCluster"))
        + sum(1 for s in rec.of_type("kubernetes:core/v1:Service") if s.plain("spec.type") == "LoadBalancer")
    )
    found.append(Demand("Standard public IPv4 addresses", addresses, q.public_ips, "quotaPublicIps", ()))
    registries = len(rec.of_type("azure-native:containerregistry:Registry"))
    found.append(Demand("container registries", registries, q.registries, "quotaRegistries", ()))
    return found, unknown + _windows_capacity(rec) + _linux_capacity(rec)


def check(rec: Recording, cfg: StackConfig) -> list[Finding]:
    rows, findings = demands(rec, cfg)
    for row in rows:
        if row.exceeded:
            detail = f" ({'; '.join(row.parts)})" if row.parts else ""
            findings.append(
                Finding(
                    "warning",
                    "quota-exceeded",
                    "stack",
                    f"{row.quota}: the stack needs {row.needed}, the limit is {row.limit} ({row.key}){detail}",
                )
            )
    return findings


def _windows_capacity(rec: Recording) -> list[Finding]:
    needed = _requested(rec, "windows", "cpu", _cpu)
    room = 0.0
    for pool in rec.of_type("azure-native:containerservice:AgentPool"):
        size = VM_SIZES.get(pool.plain("vmSize") or "")
        if pool.plain("osType") == "Windows" and size:
            nodes = max(int(pool.plain("count") or 0), int(pool.plain("maxCount") or 0))
            room += nodes * (size.vcpus - WINDOWS_NODE_RESERVED_CPU)
    if needed > room:
        nodes = math.ceil(needed / (4 - WINDOWS_NODE_RESERVED_CPU))
        return [
            Finding(
                "warning",
                "windows-pool-capacity",
                "stack",
                f"the apps request {needed:g} vCPUs on Windows nodes, the pools hold {room:g} "
                f"(about {nodes} Standard_D4s_v5 nodes needed)",
            )
        ]
    return []


def _linux_capacity(rec: Recording) -> list[Finding]:
    """The memory the Linux pods request (the SQL Servers, 2 GiB each) against the Linux pools':
    a pod that fits no node stays Pending, and `pulumi up`, waiting for its Deployment, fails."""
    needed = _requested(rec, "linux", "memory", _gib)
    pools = [
        p
        for c in rec.of_type("azure-native:containerservice:ManagedCluster")
        for p in c.plain("agentPoolProfiles") or []
    ]
    pools += [p.plain_inputs() for p in rec.of_type("azure-native:containerservice:AgentPool")]
    room = 0.0
    for pool in pools:
        size = VM_SIZES.get(pool.get("vmSize") or "")
        if (pool.get("osType") or "Linux") == "Linux" and size:
            nodes = max(int(pool.get("count") or 0), int(pool.get("maxCount") or 0))
            room += nodes * (size.memory_gib - LINUX_NODE_RESERVED_GIB)
    if needed > room:
        return [
            Finding(
                "warning",
                "linux-pool-capacity",
                "stack",
                f"the Linux pods request {needed:g} GiB of memory, the Linux pools hold {room:g} "
                f"(systemPoolCount or systemPoolVmSize: about "
                f"{math.ceil(needed / (16 - LINUX_NODE_RESERVED_GIB))} Standard_D4s_v5 nodes)",
            )
        ]
    return []


def _requested(rec: Recording, os: str, resource: str, amount: Callable[[str], float]) -> float:
    """What the Deployments' pods on `os` nodes request of `resource`, all replicas together."""
    total = 0.0
    for d in rec.of_type("kubernetes:apps/v1:Deployment"):
        pod = d.plain("spec.template.spec") or {}
        if (pod.get("nodeSelector") or {}).get("kubernetes.io/os") != os:
            continue
        requests = [c.get("resources", {}).get("requests", {}).get(resource, "0") for c in pod.get("containers", [])]
        total += sum(amount(r) for r in requests) * int(d.plain("spec.replicas") or 1)
    return total


def _gib(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)?", str(quantity))
    if not match:
        return 0.0
    return float(match.group(1)) / (1024 if match.group(2) == "Mi" else 1)


def _cpu(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", str(quantity))
    if not match:
        return 0.0
    return float(match.group(1)) / (1000 if match.group(2) else 1)
