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
# What of a Linux node's memory pods cannot have (learn.microsoft.com/azure/aks/node-resource-reservations,
# AKS 1.29 and later): kube-reserved, the lesser of 20 MB per pod of the pool's maxPods plus
# 50 MB and a quarter of the memory; the kubelet's 100 MiB eviction threshold; and the requests of
# AKS's own pods on each node (CoreDNS, the metrics server, konnectivity, the CSI and network
# daemons), about half a GiB. A pool without maxPods has Azure CNI Overlay's default, 250, so
# a 16 GiB node keeps 4 GiB for kube-reserved alone.
OVERLAY_DEFAULT_MAX_PODS = 250
EVICTION_GIB = 100 / 1024
AKS_SYSTEM_PODS_GIB = 0.5


def linux_reserved_gib(memory_gib: float, max_pods: int) -> float:
    """What a Linux node of `memory_gib` keeps from the pods' requests."""
    kube_reserved = min((20 * max_pods + 50) / 1024, memory_gib / 4)
    return kube_reserved + EVICTION_GIB + AKS_SYSTEM_PODS_GIB


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
    """The Linux pods (the SQL Servers, 2 GiB each) placed on the Linux nodes as the scheduler
    places them, a whole pod on one node: a pod that fits no node stays Pending, and `pulumi up`,
    waiting for its Deployment, fails."""
    pods = sorted(_pod_requests(rec, "linux", "memory", _gib), reverse=True)
    pools = [
        p
        for c in rec.of_type("azure-native:containerservice:ManagedCluster")
        for p in c.plain("agentPoolProfiles") or []
    ]
    pools += [p.plain_inputs() for p in rec.of_type("azure-native:containerservice:AgentPool")]
    free: list[float] = []
    for pool in pools:
        size = VM_SIZES.get(pool.get("vmSize") or "")
        if (pool.get("osType") or "Linux") == "Linux" and size:
            nodes = max(int(pool.get("count") or 0), int(pool.get("maxCount") or 0))
            max_pods = int(pool.get("maxPods") or OVERLAY_DEFAULT_MAX_PODS)
            free += [size.memory_gib - linux_reserved_gib(size.memory_gib, max_pods)] * nodes
    room = sum(free)
    pending = 0
    for pod in pods:  # first fit, largest first
        node = next((i for i, left in enumerate(free) if left >= pod), None)
        if node is None:
            pending += 1
        else:
            free[node] -= pod
    if pending:
        per_node = 16 - linux_reserved_gib(16, OVERLAY_DEFAULT_MAX_PODS)
        fits = max(1, math.floor(per_node / pods[0]))
        return [
            Finding(
                "warning",
                "linux-pool-capacity",
                "stack",
                f"the Linux pods request {sum(pods):g} GiB of memory, {pods[0]:g} GiB each; the Linux nodes "
                f"hold {room:.1f} GiB after AKS's reservations, and {pending} of {len(pods)} pods fit no node "
                f"(systemPoolCount or systemPoolVmSize: about {math.ceil(len(pods) / fits)} Standard_D4s_v5 nodes)",
            )
        ]
    return []


def _requested(rec: Recording, os: str, resource: str, amount: Callable[[str], float]) -> float:
    """What the Deployments' pods on `os` nodes request of `resource`, all replicas together."""
    return sum(_pod_requests(rec, os, resource, amount))


def _pod_requests(rec: Recording, os: str, resource: str, amount: Callable[[str], float]) -> list[float]:
    """What each pod of the Deployments on `os` nodes requests of `resource`, one per replica."""
    pods: list[float] = []
    for d in rec.of_type("kubernetes:apps/v1:Deployment"):
        pod = d.plain("spec.template.spec") or {}
        if (pod.get("nodeSelector") or {}).get("kubernetes.io/os") != os:
            continue
        requests = [c.get("resources", {}).get("requests", {}).get(resource, "0") for c in pod.get("containers", [])]
        pods += [sum(amount(r) for r in requests)] * int(d.plain("spec.replicas") or 1)
    return pods


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
