"""The dependency graph of a plan and its critical path.

Pulumi creates independent resources in parallel, so the time `pulumi up` takes on a new
stack is set by the longest chain of dependencies, each link weighted by the typical time
Azure or Kubernetes takes for that kind of resource. The durations are the typical ones in
shared/reference/azure-facts.md and Azure's own guidance; they estimate, they do not promise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from offline.recording import Recording, Registration

# Typical minutes to create one resource of a type (azure-facts.md: cluster 10-15 min,
# extra Windows pool 10-20 min, first servercore pull several minutes).
TYPICAL_MINUTES: dict[str, float] = {
    "azure-native:resources:ResourceGroup": 0.2,
    "azure-native:network:VirtualNetwork": 0.5,
    "azure-native:network:Subnet": 0.3,
    "azure-native:network:NetworkSecurityGroup": 0.3,
    "azure-native:network:PublicIPAddress": 0.3,
    "azure-native:network:NetworkInterface": 0.3,
    "azure-native:containerregistry:Registry": 1.0,
    "azure-native:containerservice:ManagedCluster": 12.5,
    "azure-native:containerservice:AgentPool": 15.0,
    "azure-native:authorization:RoleAssignment": 0.5,
    "azure-native:compute:VirtualMachine": 4.0,
    "azure-native:compute:VirtualMachineExtension": 20.0,
    "azure-native:devtestlab:GlobalSchedule": 0.2,
    "azure-native:keyvault:Vault": 0.5,
    "azure-native:keyvault:Secret": 0.1,
    "kubernetes:core/v1:Namespace": 0.1,
    "kubernetes:core/v1:Secret": 0.05,
    "kubernetes:core/v1:PersistentVolumeClaim": 0.1,
    "kubernetes:core/v1:Service": 0.1,
    "kubernetes:apps/v1:Deployment": 3.0,
}
LOAD_BALANCER_SERVICE_MINUTES = 1.5
# A Windows Deployment's first rollout waits for a servercore image of several GB.
WINDOWS_DEPLOYMENT_MINUTES = 8.0
# A Kubernetes object annotated pulumi.com/skipAwait: the provider creates it and goes on.
NOT_AWAITED_MINUTES = 0.1


def typical_minutes(reg: Registration) -> float:
    """Minutes for one resource; components, providers and random values take none."""
    if not reg.custom or reg.type.startswith(("pulumi:", "random:")):
        return 0.0
    if reg.type == "kubernetes:core/v1:Service" and reg.plain("spec.type") == "LoadBalancer":
        return LOAD_BALANCER_SERVICE_MINUTES
    if (reg.plain("metadata.annotations") or {}).get("pulumi.com/skipAwait") == "true":
        return NOT_AWAITED_MINUTES  # created, not waited for: `pulumi up` goes on at once
    if reg.type == "kubernetes:apps/v1:Deployment":
        selector = reg.plain("spec.template.spec.nodeSelector") or {}
        if selector.get("kubernetes.io/os") == "windows":
            return WINDOWS_DEPLOYMENT_MINUTES
    return TYPICAL_MINUTES.get(reg.type, 0.5)


def edges(recording: Recording) -> dict[str, list[str]]:
    """For each resource, what must exist before it: its dependencies and its provider."""
    known = recording.resources
    result = {}
    for urn, reg in known.items():
        before = [d for d in reg.dependencies if d in known and d != urn]
        if reg.provider in known:
            before.append(reg.provider)
        result[urn] = sorted(set(before))
    return result


@dataclass(frozen=True)
class CriticalPath:
    total_minutes: float
    chain: tuple[tuple[str, float], ...]  # (urn, minutes), first to last


def critical_path(depends_on: Mapping[str, Sequence[str]], minutes: Mapping[str, float]) -> CriticalPath:
    """The longest chain of the dependency DAG, by summed minutes."""
    finish: dict[str, float] = {}
    previous: dict[str, str | None] = {}

    def visit(node: str, trail: frozenset[str]) -> float:
        if node in finish:
            return finish[node]
        if node in trail:
            raise ValueError(f"dependency cycle through {node}")
        best, best_before = 0.0, None
        for before in depends_on.get(node, ()):
            done = visit(before, trail | {node})
            if done > best or (done == best and best_before is not None and before < best_before):
                best, best_before = done, before
        finish[node] = best + minutes.get(node, 0.0)
        previous[node] = best_before
        return finish[node]

    for node in sorted(depends_on):
        visit(node, frozenset())
    if not finish:
        return CriticalPath(0.0, ())
    end = max(sorted(finish), key=lambda n: finish[n])
    chain: list[tuple[str, float]] = []
    cursor: str | None = end
    while cursor is not None:
        chain.append((cursor, minutes.get(cursor, 0.0)))
        cursor = previous[cursor]
    return CriticalPath(round(finish[end], 2), tuple(reversed(chain)))


def plan_critical_path(recording: Recording) -> CriticalPath:
    return critical_path(edges(recording), {u: typical_minutes(r) for u, r in recording.resources.items()})
