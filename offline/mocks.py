"""What Azure and Kubernetes would answer, for runs without a cloud.

The offline plan and the tests run the real program against these mocks. Each answer is
derived from the resource's own inputs (a hash, never a random number), so two runs of the
same stack give the same plan. The secret values handed out here are recognizable, so the
tests can prove none of them ever appears in clear.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
SECRET_MARK = "offline-secret-"
# How the engine marks a secret and a resource reference in a serialized property.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


def digest(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def fake_secret(kind: str, name: str) -> str:
    """A value that passes Azure's password rules and is easy to find in a plan."""
    return f"{SECRET_MARK}{kind}-{digest(kind, name)}-Aa1!"


class OfflineMocks(pulumi.runtime.Mocks):
    """`regenerated`: registries whose admin password Azure has regenerated since the first run."""

    def __init__(
        self,
        stack_outputs: Callable[[str], Mapping[str, Any]] | None = None,
        regenerated: frozenset[str] = frozenset(),
    ) -> None:
        self.stack_outputs = stack_outputs
        self.regenerated = regenerated

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            if self.stack_outputs is None:
                raise ValueError(f"stack reference {inputs.get('name')} has no offline outputs")
            ref = str(inputs["name"])
            raw = dict(self.stack_outputs(ref))
            secret_names = sorted(k for k, v in raw.items() if _has_secret(v))
            return ref, {"name": ref, "outputs": reveal(raw), "secretOutputNames": secret_names}
        if args.typ == "pulumi-python:dynamic:Resource" and {"targetServer", "repository", "digest"} <= inputs.keys():
            # ImagePromotion: the copy itself needs the registries; offline, only its result.
            image = f"{inputs['targetServer']}/{inputs['repository']}@{inputs['digest']}"
            return image, {**inputs, "image": image, "method": "offline"}
        return answer(args.typ, args.name, inputs, stack=pulumi.get_stack())

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return call(args.token, args.args, regenerated=self.regenerated), []


def answer(typ: str, name: str, inputs: dict[str, Any], *, stack: str) -> tuple[str, dict[str, Any]]:
    """What the provider of `typ` answers when a resource is created: its id and its state.
    The offline plan's mocks and the real-engine tests' stand-in provider both ask here."""
    if typ.startswith("random:"):
        return f"{name}-id", {**inputs, "result": _random_result(typ, name, inputs, stack)}
    if typ.startswith("azure-native:"):
        return _azure(typ, name, inputs)
    if typ.startswith("kubernetes:"):
        return _kubernetes(typ, name, inputs, stack)
    if typ.startswith("azuredevops:"):
        return _azuredevops(typ, name, inputs, stack)
    return f"{name}-id", inputs


def as_outputs(typ: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs in the shape the provider answers them, before anything is created (its
    preview): ARM returns a cluster's user-assigned identities as a map from id to ids."""
    state = dict(inputs)
    identity = state.get("identity")
    if typ == "azure-native:containerservice:ManagedCluster" and isinstance(identity, dict):
        ids = identity.get("userAssignedIdentities")
        if isinstance(ids, list):
            state["identity"] = {
                **identity,
                "userAssignedIdentities": {
                    str(uid): {"principalId": _guid("principal", str(uid)), "clientId": _guid("client", str(uid))}
                    for uid in ids
                },
            }
    return state


def call(token: str, a: dict[str, Any], *, regenerated: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What a provider function answers (the credentials listings the program reads)."""
    if token == "azure-native:containerregistry:listRegistryCredentials":
        registry = str(a.get("registryName"))
        first = f"{registry}/regenerated" if registry in regenerated else registry
        return {
            "username": registry,
            "passwords": [
                {"name": "password", "value": fake_secret("acr-password", first)},
                {"name": "password2", "value": fake_secret("acr-password2", registry)},
            ],
        }
    if token == "azure-native:containerservice:listManagedClusterAdminCredentials":
        cluster = str(a.get("resourceName"))
        kubeconfig = (
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {c}\n  cluster:\n"
            "    server: https://{c}.hcp.westeurope.azmk8s.io:443\ncontexts:\n- name: {c}\n"
            "  context: {{cluster: {c}, user: clusterAdmin}}\ncurrent-context: {c}\nusers:\n"
            "- name: clusterAdmin\n  user:\n    token: {t}\n"
        ).format(c=cluster, t=fake_secret("kube-token", cluster))
        return {"kubeconfigs": [{"name": "clusterAdmin", "value": base64.b64encode(kubeconfig.encode()).decode()}]}
    if token == "azuredevops:index/getGroup:getGroup":
        project, group = str(a.get("projectId", "")), str(a.get("name", ""))
        origin = _guid("azdo-group", project, group)
        return {
            "id": f"vssgp.{digest('descriptor', origin, length=24)}",
            "descriptor": f"vssgp.{digest('descriptor', origin, length=24)}",
            "groupId": origin,
            "originId": origin,
            "origin": "vsts",
            "name": group,
            "projectId": project,
        }
    if token == "azuredevops:index/getProject:getProject":
        project = str(a.get("name", ""))
        return {"id": _guid("azdo-project", project), "projectId": _guid("azdo-project", project), "name": project}
    if token == "azure-native:authorization:getClientConfig":
        return {
            "clientId": _guid("client", "deployer"),
            "objectId": _guid("object", "deployer"),
            "subscriptionId": SUBSCRIPTION,
            "tenantId": _guid("tenant"),
        }
    return {}


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SIG_KEY) == SECRET_SIG or any(_has_secret(v) for v in value.values())
    return isinstance(value, list) and any(_has_secret(v) for v in value)


def reveal(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return reveal(value.get("value"))
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def _random_result(typ: str, name: str, inputs: Mapping[str, Any], stack: str) -> str:
    if typ == "random:index/randomPassword:RandomPassword":
        return fake_secret("password", f"{stack}/{name}")
    length = int(inputs.get("length", 8))
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    raw = hashlib.sha256(f"{stack}/{name}".encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in raw)[:length]


NAME_KEY_FOR_TYPE = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:containerregistry:Registry": "registryName",
    "azure-native:containerservice:ManagedCluster": "resourceName",
    "azure-native:containerservice:AgentPool": "agentPoolName",
    "azure-native:network:VirtualNetwork": "virtualNetworkName",
    "azure-native:network:Subnet": "subnetName",
    "azure-native:network:NetworkSecurityGroup": "networkSecurityGroupName",
    "azure-native:network:NatGateway": "natGatewayName",
    "azure-native:network:PublicIPAddress": "publicIpAddressName",
    "azure-native:network:NetworkInterface": "networkInterfaceName",
    "azure-native:compute:VirtualMachine": "vmName",
    "azure-native:compute:VirtualMachineExtension": "vmExtensionName",
    "azure-native:devtestlab:GlobalSchedule": "name",
    "azure-native:managedidentity:UserAssignedIdentity": "resourceName",
    "azure-native:containerservice:MaintenanceConfiguration": "configName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:keyvault:Secret": "secretName",
    "azure-native:containerregistry:Task": "taskName",
}


# The resource provider namespaces as ARM writes them in an id (azure-native's modules are lowercase).
NAMESPACES = {
    "authorization": "Authorization",
    "compute": "Compute",
    "containerregistry": "ContainerRegistry",
    "containerservice": "ContainerService",
    "devtestlab": "DevTestLab",
    "keyvault": "KeyVault",
    "managedidentity": "ManagedIdentity",
    "network": "Network",
}
ARM_TYPES = {"GlobalSchedule": "schedules", "PublicIPAddress": "publicIPAddresses"}  # not the plain plural


def arm_type(module: str, kind: str) -> str:
    """`Microsoft.Compute/virtualMachines` for azure-native:compute:VirtualMachine, as in ARM's ids
    (a lowerCamel plural), so that what parses a real top-level resource's id parses these (child
    resources, as an extension or a subnet, keep this flat form: nothing here parses theirs)."""
    plural = ARM_TYPES.get(kind) or (kind[:-1] + "ies" if kind.endswith("y") else kind + "s")
    return f"Microsoft.{NAMESPACES.get(module, module)}/{plural[0].lower()}{plural[1:]}"


def _azure(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = NAME_KEY_FOR_TYPE.get(typ)
    physical = str(inputs.get(key) or name) if key else name
    module, kind = typ.split(":")[1], typ.split(":")[2]
    group = inputs.get("resourceGroupName", "rg")
    rid = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{physical}"
        if typ == "azure-native:resources:ResourceGroup"
        else f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{arm_type(module, kind)}/{physical}"
    )
    if typ == "azure-native:keyvault:Secret":  # a child of its vault, as ARM names it
        vaults = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults"
        rid = f"{vaults}/{inputs.get('vaultName')}/secrets/{physical}"
    if typ == "azure-native:containerregistry:Task":  # a child of its registry
        registries = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry"
        rid = f"{registries}/registries/{inputs.get('registryName')}/tasks/{physical}"
    state: dict[str, Any] = {**inputs, "id": rid, "name": physical}
    if typ == "azure-native:containerregistry:Registry":
        state["loginServer"] = f"{physical}.azurecr.io"
    elif typ == "azure-native:containerservice:ManagedCluster":
        state["fqdn"] = f"{physical}.hcp.westeurope.azmk8s.io"
        state.update(as_outputs(typ, inputs))
        state["identityProfile"] = {
            "kubeletidentity": {
                "objectId": _guid("kubelet", physical),
                "clientId": _guid("kubelet-client", physical),
                "resourceId": f"{rid}-agentpool",
            }
        }
    elif typ == "azure-native:network:NetworkInterface":
        octets = bytes.fromhex(digest("nic", physical, length=4))
        configurations = [dict(c) for c in inputs.get("ipConfigurations", [])]
        if configurations:
            configurations[0]["privateIPAddress"] = f"10.{octets[0]}.{octets[1]}.{octets[1] % 250 + 4}"
        state["ipConfigurations"] = configurations
    elif typ == "azure-native:network:PublicIPAddress":
        octets = bytes.fromhex(digest("pip", physical, length=4))
        state["ipAddress"] = f"20.{octets[0]}.{octets[1]}.{octets[1] % 250 + 1}"
    elif typ == "azure-native:compute:VirtualMachine" and "identity" in inputs:
        # A system-assigned identity: ARM answers its principal once the VM exists.
        principal = {"principalId": _guid("vm-principal", physical), "tenantId": _guid("tenant")}
        state["identity"] = {**inputs["identity"], **principal}
    elif typ == "azure-native:keyvault:Vault":
        state["properties"] = {**inputs.get("properties", {}), "vaultUri": f"https://{physical}.vault.azure.net/"}
    elif typ == "azure-native:keyvault:Secret":
        # Key Vault makes a version per value; here it follows from the inputs, so two plans agree.
        uri = f"https://{inputs.get('vaultName')}.vault.azure.net/secrets/{physical}"
        version = digest(json.dumps(inputs, sort_keys=True, default=str), length=32)
        state["properties"] = {
            **reveal(inputs.get("properties") or {}),  # the value makes the whole object secret
            "secretUri": uri,
            "secretUriWithVersion": f"{uri}/{version}",
        }
    elif typ == "azure-native:managedidentity:UserAssignedIdentity":
        state["principalId"] = _guid("principal", physical)
        state["clientId"] = _guid("client", physical)
    elif typ == "azure-native:authorization:RoleAssignment":
        state["name"] = _guid("role", name)
    return rid, state


def _kubernetes(typ: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", name)
    state = {**inputs, "metadata": metadata}
    if typ == "kubernetes:core/v1:Service" and (inputs.get("spec") or {}).get("type") == "LoadBalancer":
        octets = bytes.fromhex(digest("ip", stack, name, length=6))
        state["status"] = {"loadBalancer": {"ingress": [{"ip": f"20.{octets[0]}.{octets[1]}.{octets[2] or 1}"}]}}
    if typ == "kubernetes:core/v1:Secret" and inputs.get("type") == "kubernetes.io/service-account-token":
        # The token controller fills the Secret: the account's token and the cluster's CA.
        token = fake_secret("sa-token", f"{stack}/{metadata.get('namespace')}/{metadata['name']}")
        ca = f"-----BEGIN CERTIFICATE-----\noffline-ca-{digest('ca', stack)}\n-----END CERTIFICATE-----\n"
        state["data"] = {
            "token": base64.b64encode(token.encode()).decode(),
            "ca.crt": base64.b64encode(ca.encode()).decode(),
            "namespace": base64.b64encode(str(metadata.get("namespace")).encode()).decode(),
        }
    namespace = metadata.get("namespace")
    return (f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])), state


# Azure DevOps numbers these objects; the others have GUIDs.
AZDO_NUMBERED = frozenset(
    {
        "azuredevops:index/pool:Pool",
        "azuredevops:index/queue:Queue",
        "azuredevops:index/variableGroup:VariableGroup",
        "azuredevops:index/buildDefinition:BuildDefinition",
        "azuredevops:index/environment:Environment",
        "azuredevops:index/checkApproval:CheckApproval",
    }
)


def _azuredevops(typ: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    """Azure DevOps' answers: numbers for pools, queues, groups, definitions, environments and
    checks, GUIDs for the rest; a repository's branch and URLs in its organization and project.
    Secret inputs come back as given, as the bridged provider keeps them in state (the SDK marks
    them additional secret outputs: dockerPassword, the service account's token)."""
    if typ in AZDO_NUMBERED:
        rid = str(int(digest(stack, typ, name, length=6), 16) % 100_000 + 1)
    else:
        rid = _guid("azdo", stack, typ, name)
    state: dict[str, Any] = {**inputs, "id": rid}
    if typ == "azuredevops:index/git:Git":
        repo = str(inputs.get("name") or name)
        project = str(inputs.get("projectId") or "project")
        state.update(
            defaultBranch="refs/heads/main",
            remoteUrl=f"https://dev.azure.com/offline/{project}/_git/{repo}",
            webUrl=f"https://dev.azure.com/offline/{project}/_git/{repo}",
            url=f"https://dev.azure.com/offline/{project}/_apis/git/repositories/{rid}",
            size=0,
        )
    elif typ == "azuredevops:index/project:Project":
        state.setdefault("processTemplateId", _guid("azdo-process", str(inputs.get("workItemTemplate", ""))))
    elif typ == "azuredevops:index/buildDefinition:BuildDefinition":
        state["revision"] = 1
    return rid, state


def _guid(*parts: str) -> str:
    h = digest(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
