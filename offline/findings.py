"""Rules of shared/reference/azure-facts.md that only the whole resource graph can judge.

Config rules live in infra/config.py and stop a run before any resource exists; these
rules look at what the program registered, across components. An `error` finding is a
stack Azure or Kubernetes would refuse or break; a `warning` one works but hurts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from components.naming import ACR_NAME, ACR_PULL_ROLE, WINDOWS_POOL_NAME
from offline.recording import Recording

AGENT_POOL = "azure-native:containerservice:AgentPool"
CLUSTER = "azure-native:containerservice:ManagedCluster"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# PUT ManagedCluster / PUT AgentPool share a bucket of 20 that refills one a minute.
ARM_PUT_BUCKET = 20
DEFAULT_ROLLOUT_MINUTES = 10


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    rule: str
    resource: str  # logical name, or "stack"
    message: str

    def line(self) -> str:
        return f"{self.severity:7} {self.rule}: {self.resource}: {self.message}"


Rule = Callable[[Recording], Iterator[Finding]]


def _windows_pools(rec: Recording) -> list[tuple[str, str]]:
    return [
        (p.plain("agentPoolName"), p.plain("osSKU")) for p in rec.of_type(AGENT_POOL) if p.plain("osType") == "Windows"
    ]


def windows_cluster(rec: Recording) -> Iterator[Finding]:
    if not _windows_pools(rec):
        return
    for cluster in rec.of_type(CLUSTER):
        if not cluster.plain("windowsProfile.adminUsername") or not cluster.plain("windowsProfile.adminPassword"):
            yield Finding("error", "windows-profile-at-creation", cluster.name, "Windows pools need windowsProfile set")
        if cluster.plain("networkProfile.networkPlugin") != "azure":
            yield Finding("error", "windows-needs-azure-cni", cluster.name, "Windows pools need networkPlugin azure")
        systems = [p for p in cluster.plain("agentPoolProfiles") or [] if p.get("mode") == "System"]
        if not any(p.get("osType", "Linux") == "Linux" for p in systems):
            yield Finding("error", "linux-system-pool", cluster.name, "the cluster needs a Linux System pool")


def windows_pool_names(rec: Recording) -> Iterator[Finding]:
    for name, _ in _windows_pools(rec):
        if not WINDOWS_POOL_NAME.fullmatch(name or ""):
            yield Finding("error", "windows-pool-name", name, "Windows pool names are 1-6 lowercase letters and digits")


def windows_images_match_pools(rec: Recording) -> Iterator[Finding]:
    skus = {sku for _, sku in _windows_pools(rec)}
    for d in rec.of_type(DEPLOYMENT):
        selector = d.plain("spec.template.spec.nodeSelector") or {}
        if selector.get("kubernetes.io/os") != "windows":
            continue
        sku = selector.get("kubernetes.azure.com/os-sku")
        if sku not in skus:
            yield Finding(
                "error",
                "windows-image-matches-pool",
                d.name,
                f"selects os-sku {sku} but the Windows pools are {', '.join(sorted(skus)) or 'none'}",
            )
        minutes = _minutes(d.custom_timeouts.get("create", ""))
        if minutes < DEFAULT_ROLLOUT_MINUTES:
            yield Finding(
                "warning",
                "windows-rollout-wait",
                d.name,
                f"waits {minutes:g} min; a first Windows image pull often needs longer than 10",
            )


def images_pullable(rec: Recording) -> Iterator[Finding]:
    registries = {r.state.get("loginServer"): r for r in rec.of_type("azure-native:containerregistry:Registry")}
    granted = {
        g.plain("scope")
        for g in rec.of_type("azure-native:authorization:RoleAssignment")
        if str(g.plain("roleDefinitionId") or "").endswith(ACR_PULL_ROLE)
    }
    for d in rec.of_type(DEPLOYMENT):
        for container in d.plain("spec.template.spec.containers") or []:
            server = str(container.get("image", "")).split("/")[0]
            registry = registries.get(server)
            if registry is not None and registry.state.get("id") not in granted:
                yield Finding(
                    "error", "acr-pull-granted", d.name, f"pulls from {server} without AcrPull for the cluster"
                )


def registry_names(rec: Recording) -> Iterator[Finding]:
    for r in rec.of_type("azure-native:containerregistry:Registry"):
        name = r.plain("registryName") or ""
        if not ACR_NAME.fullmatch(name):
            yield Finding("error", "registry-name", r.name, f"{name!r} is not 5-50 lowercase letters and digits")
        if r.plain("adminUserEnabled") is not True:
            yield Finding(
                "error", "registry-admin-user-required", r.name, "teams need the admin user for their pipeline"
            )


def arm_throttling(rec: Recording) -> Iterator[Finding]:
    puts = len(rec.of_type(CLUSTER)) + len(rec.of_type(AGENT_POOL))
    if puts > ARM_PUT_BUCKET:
        yield Finding(
            "warning",
            "arm-put-throttling",
            "stack",
            f"{puts} cluster and pool PUTs exceed the bucket of {ARM_PUT_BUCKET}; the rest wait a minute each",
        )


def teardown_ready(rec: Recording) -> Iterator[Finding]:
    for p in rec.of_type("pulumi:providers:kubernetes"):
        if p.plain("deleteUnreachable") in ("true", True):
            yield Finding(
                "warning",
                "k8s-delete-unreachable",
                p.name,
                "a refresh while the API server is unreachable drops every Kubernetes object from the state;"
                " leave it to the teardown (PULUMI_K8S_DELETE_UNREACHABLE)",
            )


RULES: tuple[Rule, ...] = (
    windows_cluster,
    windows_pool_names,
    windows_images_match_pools,
    images_pullable,
    registry_names,
    arm_throttling,
    teardown_ready,
)


def check_graph(rec: Recording) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(rec)]


def check_policies(rec: Recording) -> list[Finding]:
    """The policy pack's rules (policy/rules.py) on the recorded resources: mandatory ones
    as errors, advisory ones as warnings."""
    from policy.rules import Resource, evaluate

    resources = [Resource(r.type, r.name, r.urn, r.plain_inputs()) for r in rec.resources.values()]
    return [
        Finding("error" if rule.mandatory else "warning", rule.name, resource.name, message)
        for rule, resource, message in evaluate(resources)
    ]


def _minutes(duration: str) -> float:
    """Minutes in a Pulumi custom timeout such as "30m", "1h" or "90s"; 10 when unset."""
    units = {"s": 1 / 60, "m": 1.0, "h": 60.0}
    if not duration:
        return DEFAULT_ROLLOUT_MINUTES
    try:
        return float(duration[:-1]) * units[duration[-1]]
    except (KeyError, ValueError):
        return 0.0
