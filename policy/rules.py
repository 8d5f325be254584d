"""The guardrails as plain functions over resources (type, inputs, URN).

The policy pack (policy/__main__.py) runs them under `pulumi preview --policy-pack policy`;
the offline plan runs the very same functions on the resources it records. Standard
library only, so the pack needs nothing of the project but this folder.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REMOTE_ADMIN_PORTS = (22, 3389, 5985, 5986)
SUPPORTED_WINDOWS_SKUS = ("Windows2022", "Windows2025")
REQUIRED_TAGS = ("environment", "team", "expires-at")
EXTENSION_PUBLIC_SETTINGS = frozenset({"timestamp", "fileUris"})
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet")
PROD_STACKS = frozenset({"prod", "production"})
REGISTRY = "azure-native:containerregistry:Registry"
TASK = "azure-native:containerregistry:Task"
# The tag the program puts on a purge a prod stack's config allowed (components/container_registry.py
# PROD_PURGE_TAG; this folder imports nothing of the project).
PROD_PURGE_TAG = "purge-on-prod"
# Tags a purge must never match: versions, branches, latest, a pinned digest.
KEPT_TAGS = ("1.0.0", "1.4.2-rc.1", "1.0.1042", "latest", "develop", "main", "feature-1042", "pinned-" + "0" * 64)


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]

    @property
    def stack(self) -> str:
        return self.urn.split(":")[2].split("::")[0] if self.urn.startswith("urn:pulumi:") else ""


ResourceCheck = Callable[[Resource], Iterator[str]]
StackCheck = Callable[[Sequence[Resource]], Iterator[tuple[Resource, str]]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    mandatory: bool
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


# --- mandatory -----------------------------------------------------------------------------


# Any IPv4 range: a source wider still ("*", "Internet", 0.0.0.0/0) is the Internet.
ANY_IPV4_RANGE = ("0.0.0.0/1", "128.0.0.0/1")


def admits_remote_admin(rule: Mapping[str, Any], *, allowed: Sequence[str]) -> list[str]:
    """The sources from which an inbound Allow rule opens a remote-administration port,
    other than those inside the `allowed` ranges."""
    if rule.get("access") != "Allow" or rule.get("direction") != "Inbound":
        return []
    ports = [str(p) for p in [*(rule.get("destinationPortRanges") or []), rule.get("destinationPortRange")] if p]
    if not any(_covers(p, port) for p in ports for port in REMOTE_ADMIN_PORTS):
        return []
    sources = [str(s) for s in [*(rule.get("sourceAddressPrefixes") or []), rule.get("sourceAddressPrefix")] if s]
    return [s for s in sources or ["*"] if not _inside(s, allowed)]


def no_remote_admin_from_internet(r: Resource) -> Iterator[str]:
    rules: list[Mapping[str, Any]] = []
    if r.type == "azure-native:network:NetworkSecurityGroup":
        rules = list(r.props.get("securityRules") or [])
    elif r.type == "azure-native:network:SecurityRule":
        rules = [r.props]
    for rule in rules:
        for source in admits_remote_admin(rule, allowed=ANY_IPV4_RANGE):
            yield f"rule {rule.get('name')} admits RDP, WinRM or SSH from {source}"


def extension_secrets_protected(r: Resource) -> Iterator[str]:
    if r.type != "azure-native:compute:VirtualMachineExtension":
        return
    for key in sorted(set(r.props.get("settings") or {}) - EXTENSION_PUBLIC_SETTINGS):
        yield f"settings.{key} is stored and returned in clear: it belongs in protectedSettings"


def key_vault_rbac(r: Resource) -> Iterator[str]:
    """Access policies grant a whole vault's secrets to an identity and bypass Azure RBAC's
    audit trail; with RBAC each agent VM is granted read on its one secret only."""
    if r.type != "azure-native:keyvault:Vault":
        return
    properties = r.props.get("properties") or {}
    if properties.get("enableRbacAuthorization") is not True:
        yield "the vault authorizes with access policies: set properties.enableRbacAuthorization"
    if properties.get("accessPolicies"):
        yield "the vault carries access policies: grant Key Vault roles instead"


def required_tags(r: Resource) -> Iterator[str]:
    if r.type not in ("azure-native:containerregistry:Registry", "azure-native:containerservice:ManagedCluster"):
        return
    tags = r.props.get("tags") or {}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        yield f"lacks the tags {', '.join(missing)}"


def windows_os_sku_supported(r: Resource) -> Iterator[str]:
    if r.type != "azure-native:containerservice:AgentPool" or r.props.get("osType") != "Windows":
        return
    sku = r.props.get("osSKU")
    minor = _minor(str(r.props.get("orchestratorVersion") or ""))
    if sku not in SUPPORTED_WINDOWS_SKUS:
        yield f"osSKU {sku} is not supported (Windows2019 retired 2026-03-01); use Windows2022 or Windows2025"
    elif sku == "Windows2022" and minor is not None and minor >= 37:
        yield f"Windows2022 is not supported on Kubernetes 1.{minor}"
    elif sku == "Windows2025" and minor is not None and minor < 32:
        yield f"Windows2025 needs Kubernetes 1.32 or later, not 1.{minor}"


def aks_rbac(r: Resource) -> Iterator[str]:
    if r.type == "azure-native:containerservice:ManagedCluster" and r.props.get("enableRBAC") is not True:
        yield "Kubernetes RBAC must be on (enableRBAC)"


def containers_limited_unprivileged(r: Resource) -> Iterator[str]:
    for container in _containers(r):
        name = container.get("name", "?")
        limits = (container.get("resources") or {}).get("limits") or {}
        missing = [k for k in ("cpu", "memory") if k not in limits]
        if missing:
            yield f"container {name} has no {' or '.join(missing)} limit"
        security = container.get("securityContext") or {}
        if security.get("privileged") is True:
            yield f"container {name} is privileged"


def prod_images_by_digest(r: Resource) -> Iterator[str]:
    if r.stack not in PROD_STACKS:
        return
    for container in _containers(r):
        image = str(container.get("image", ""))
        if "@sha256:" not in image:
            yield f"container {container.get('name', '?')} runs {image} by tag; prod runs images by digest"


def purge_commands(r: Resource) -> list[list[str]]:
    """The `acr purge` commands of an ACR task's encoded steps, split into words; a step that
    is not base64 text is a command `["?"]`."""
    if r.type != TASK:
        return []
    encoded = (r.props.get("step") or {}).get("encodedTaskContent")
    if not isinstance(encoded, str):
        return []
    try:
        text = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return [["?"]]
    found = []
    for line in text.splitlines():
        command = line.strip().removeprefix("- ").removeprefix("cmd:").strip()
        try:
            # A YAML double-quoted scalar, as the program writes it, is a JSON string.
            command = json.loads(command) if command.startswith('"') else command
            if isinstance(command, str) and command.startswith("acr purge"):
                found.append(shlex.split(command))
        except ValueError:
            found.append(["?"])
    return found


def _is_prod(r: Resource) -> bool:
    tags = r.props.get("tags") or {}
    return r.stack in PROD_STACKS or tags.get("environment") in PROD_STACKS


def registry_purge_safe(r: Resource) -> Iterator[str]:
    """A registry purge removes build ids only, never a locked image, and runs on prod only where
    its config said so (registryPurgeProd)."""
    commands = purge_commands(r)
    for words in commands:
        if words == ["?"]:
            yield "the task's step cannot be read: its purge cannot be judged"
            continue
        filters = [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("--filter", "-f")]
        if not filters:
            yield "acr purge without --filter"
        for spec in filters:
            _, _, tag_regex = spec.partition(":")
            try:
                pattern = re.compile(tag_regex)
            except re.error:
                yield f"filter {spec!r}: its tag regex does not parse"
                continue
            hit = [t for t in KEPT_TAGS if pattern.search(t)]
            if hit:
                yield f"filter {spec!r} matches {hit[0]}: a purge deletes build ids only, never a version or branch"
        if "--include-locked" in words:
            yield "--include-locked deletes locked images"
    tags = r.props.get("tags") or {}
    if commands and _is_prod(r) and not tags.get(PROD_PURGE_TAG):
        yield "purges a prod registry without its own setting (registryPurgeProd)"


# --- advisory ------------------------------------------------------------------------------


def registry_admin_user(r: Resource) -> Iterator[str]:
    if r.type == "azure-native:containerregistry:Registry" and r.props.get("adminUserEnabled") is True:
        yield "the admin user is on: right for bootcamp pipelines, elsewhere prefer tokens or managed identities"


def vm_public_address(r: Resource) -> Iterator[str]:
    if r.type != "azure-native:network:NetworkInterface":
        return
    for config in r.props.get("ipConfigurations") or []:
        if config.get("publicIPAddress"):
            yield "the network interface has a public address"


def service_traffic_policy_local(r: Resource) -> Iterator[str]:
    spec = r.props.get("spec") or {}
    load_balancer = r.type == "kubernetes:core/v1:Service" and spec.get("type") == "LoadBalancer"
    if load_balancer and spec.get("externalTrafficPolicy") != "Local":
        yield "Cluster traffic policy runs Windows nodes out of ports near 500 Services; use Local"


def pipeline_access_namespaced(r: Resource) -> Iterator[str]:
    """A pipeline's Kubernetes access stays in its team's namespace: no service account is bound
    cluster-wide, and the Azure DevOps connection authenticates as a service account (a kubeconfig
    or an Azure subscription login would act as the cluster's admin)."""
    if r.type == "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding":
        for subject in r.props.get("subjects") or []:
            if isinstance(subject, Mapping) and subject.get("kind") == "ServiceAccount":
                yield f"service account {subject.get('name')} is bound cluster-wide; use a Role and RoleBinding"
    if r.type == "azuredevops:index/serviceEndpointKubernetes:ServiceEndpointKubernetes":
        kind = r.props.get("authorizationType")
        if kind != "ServiceAccount":
            yield f"the Kubernetes service connection authenticates by {kind}, not a namespaced service account"


def azdo_least_access(r: Resource) -> Iterator[str]:
    """A team's Azure DevOps objects serve its own pipeline, authorised one by one, and a
    release is approved by someone other than the person who started it."""
    if r.type == "azuredevops:index/variableGroup:VariableGroup" and r.props.get("allowAccess") is True:
        yield "the variable group is open to every pipeline of the project; authorise the team's pipeline instead"
    if r.type == "azuredevops:index/pipelineAuthorization:PipelineAuthorization" and not r.props.get("pipelineId"):
        yield f"the {r.props.get('type')} is authorised for every pipeline of the project; name the team's pipeline"
    if r.type == "azuredevops:index/checkApproval:CheckApproval":
        if r.props.get("requesterCanApprove") is True:
            yield "whoever starts a release may approve it; set requesterCanApprove false"
        if int(r.props.get("minimumRequiredApprovers") or 0) < 1:
            yield "the approval needs no approver; set minimumRequiredApprovers to 1 or more"


def agents_shut_down(resources: Sequence[Resource]) -> Iterator[tuple[Resource, str]]:
    schedules = [
        r.props.get("targetResourceId")
        for r in resources
        if r.type == "azure-native:devtestlab:GlobalSchedule" and r.props.get("status") == "Enabled"
    ]
    if any(not (isinstance(t, str) and t.startswith("/subscriptions/")) for t in schedules):
        return  # a target not known yet (a preview of new VMs): nothing can be judged
    targets = {str(t) for t in schedules}
    for r in resources:
        if r.type == "azure-native:compute:VirtualMachine":
            vm = str(r.props.get("vmName") or r.name)
            if not any(t.endswith(f"/virtualMachines/{vm}") or t.endswith(f"/VirtualMachine/{vm}") for t in targets):
                yield r, "no daily auto-shutdown: it bills around the clock"


def registries_purged(resources: Sequence[Resource]) -> Iterator[tuple[Resource, str]]:
    """Outside prod, each registry has a purge: every build pushes an image, and a Basic
    registry's 10 GiB fill within a bootcamp's days, then bill by the GiB."""
    purged = {r.props.get("registryName") for r in resources if purge_commands(r)}
    for r in resources:
        name = r.props.get("registryName")
        if r.type != REGISTRY or _is_prod(r) or not isinstance(name, str) or not name:
            continue  # a name not known yet (a preview of a new registry): nothing can be judged
        if name not in purged:
            yield r, "nothing deletes its old images (registryPurge): builds fill it, and then it bills by the GiB"


RULES: tuple[Rule, ...] = (
    Rule(
        "no-remote-admin-from-internet",
        "No inbound RDP, WinRM or SSH from the Internet or any source.",
        True,
        no_remote_admin_from_internet,
    ),
    Rule(
        "extension-secrets-protected",
        "VM extension secrets only in protectedSettings.",
        True,
        extension_secrets_protected,
    ),
    Rule("key-vault-rbac", "Key Vaults authorize with Azure RBAC, never access policies.", True, key_vault_rbac),
    Rule("required-tags", "Registries and clusters carry the environment, team and expiry tags.", True, required_tags),
    Rule(
        "windows-os-sku-supported",
        "Windows pools on a supported OS SKU for their Kubernetes version.",
        True,
        windows_os_sku_supported,
    ),
    Rule("aks-rbac", "AKS clusters with Kubernetes RBAC.", True, aks_rbac),
    Rule(
        "containers-limited-unprivileged",
        "Containers with CPU and memory limits, never privileged.",
        True,
        containers_limited_unprivileged,
    ),
    Rule(
        "pipeline-access-namespaced",
        "Pipelines reach Kubernetes as a namespaced service account, never cluster-wide.",
        True,
        pipeline_access_namespaced,
    ),
    Rule(
        "azdo-least-access",
        "Azure DevOps objects open to the team's pipeline only; releases approved by another person.",
        True,
        azdo_least_access,
    ),
    Rule("prod-images-by-digest", "Prod runs images by digest, never by tag.", True, prod_images_by_digest),
    Rule(
        "registry-purge-safe",
        "Registry purges delete build ids only, never locked images, and touch prod only by its own setting.",
        True,
        registry_purge_safe,
    ),
    Rule("registry-admin-user", "Registry admin users are a bootcamp convenience.", False, registry_admin_user),
    Rule("vm-public-address", "VMs without public addresses.", False, vm_public_address),
    Rule(
        "service-traffic-policy-local",
        "LoadBalancer Services with externalTrafficPolicy Local.",
        False,
        service_traffic_policy_local,
    ),
    Rule("agents-shut-down", "Build-agent VMs shut down daily.", False, stack_check=agents_shut_down),
    Rule(
        "registries-purged",
        "Registries outside prod delete old images on a schedule.",
        False,
        stack_check=registries_purged,
    ),
)


def evaluate(resources: Sequence[Resource], rules: Sequence[Rule] = RULES) -> list[tuple[Rule, Resource, str]]:
    """Every violation: (rule, resource, message)."""
    found = []
    for rule in rules:
        if rule.check is not None:
            found += [(rule, r, message) for r in resources for message in rule.check(r)]
        if rule.stack_check is not None:
            found += [(rule, r, message) for r, message in rule.stack_check(resources)]
    return found


def _containers(r: Resource) -> list[Mapping[str, Any]]:
    if r.type not in WORKLOADS:
        return []
    pod = ((r.props.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def _covers(port_range: str, port: int) -> bool:
    if port_range == "*":
        return True
    low, _, high = port_range.partition("-")
    try:
        return int(low) <= port <= int(high or low)
    except ValueError:
        return False


def _inside(source: str, allowed: Sequence[str]) -> bool:
    try:
        net = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False  # "*", "Internet", service tags: wider than any range
    return any(
        net.version == 4 and net.subnet_of(ipaddress.ip_network(a))  # type: ignore[arg-type]
        for a in allowed
    )


def _minor(version: str) -> int | None:
    match = re.match(r"^1\.(\d+)", version)
    return int(match.group(1)) if match else None
