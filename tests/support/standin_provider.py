"""A local stand-in for the provider plugins that need Azure (azure-native, random, azuredevops).
Kubernetes is not stood in: the real pulumi-kubernetes provider talks to a real API server
(tests/support/kube.py), whose admin kubeconfig this stand-in's listClusterAdminCredentials returns.

The real Pulumi CLI starts it as `pulumi-resource-<NAME> [flags] ENGINE_ADDRESS` in the program
directory and reads its gRPC port from its first line of output (sdk/go/common/resource/plugin/
plugin.go, `newPlugin`). It serves the ResourceProvider service of the pulumi wheel's
`provider_pb2_grpc`, as `pulumi/dynamic/__main__.py` does, and answers what Azure would with
`offline.mocks.answer` and `offline.mocks.call`: the offline plan's one description of Azure's answers.

What it keeps: a "cloud", one JSON file per object under $MUSICSTORE_STANDIN_CLOUD, so a refresh
reads what exists and a destroy leaves it empty. How it diffs: old inputs against new inputs;
a change to a property the real provider cannot update is a replacement (see REPLACE_KEYS).

What AKS and the azure-native provider do with a cluster's pools (imitated, see `_pools`):
AKS reports every pool in a cluster's `agentPoolProfiles`, the inline ones and the AgentPools,
and the provider's Read copies what changed in Azure into the state's inputs
(pulumi-azure-native provider/pkg/provider/provider.go, `Read`); a cluster update naming a
pool the cluster lacks is refused ("A new agent pool was introduced", pulumi-azure-native#579).

Faults and local services, through the environment (plugins inherit the CLI's):
- MUSICSTORE_STANDIN_FAIL: comma-separated logical names whose create or update fails.
- MUSICSTORE_STANDIN_KUBECONFIGS: JSON {"<cluster resourceName>": "<kubeconfig>"}: the admin
  kubeconfig of that cluster's real API server, which listClusterAdminCredentials returns.
- MUSICSTORE_STANDIN_REGISTRIES: JSON {"<stack>/<team>": {"server", "username", "password"}}:
  that team's registry is a local registry server (its login server and admin credentials).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from offline import mocks

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's sentinel for a value not known yet

# Properties whose change the real provider answers with a replacement. azure-native: the ARM
# URL's path parameters (resource group, the resource's and its parents' names) and `location`,
# which ARM cannot move (pulumi-azure-native marks them forceNew in its metadata); the role
# assignment's principal and role, which ARM refuses to update ("RoleAssignmentUpdateNotPermitted");
# and what azure-facts.md says cannot change after creation: a Windows pool's VM size, maxPods
# and OS SKU (a new pool is made), a VM's computer name and admin username.
# random: every argument (the random provider marks each ForceNew).
REPLACE_KEYS: dict[str, frozenset[str]] = {
    "azure-native:containerservice:AgentPool": frozenset({"resourceName", "vmSize", "maxPods", "osSKU", "osType"}),
    "azure-native:containerservice:MaintenanceConfiguration": frozenset({"resourceName"}),
    "azure-native:compute:VirtualMachine": frozenset({"osProfile.computerName", "osProfile.adminUsername"}),
    "azure-native:network:Subnet": frozenset({"virtualNetworkName"}),
    "azure-native:compute:VirtualMachineExtension": frozenset({"vmName"}),
    "azure-native:authorization:RoleAssignment": frozenset(
        {"scope", "roleAssignmentName", "principalId", "roleDefinitionId"}
    ),
}
CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
AZURE_REPLACE = frozenset({"resourceGroupName", "location"})


def replace_keys(typ: str, changed: set[str]) -> list[str]:
    """The changed properties (dotted paths) that force the real provider to replace."""
    if typ.startswith("random:"):
        return sorted(changed)
    name_key = mocks.NAME_KEY_FOR_TYPE.get(typ)
    fixed = AZURE_REPLACE | REPLACE_KEYS.get(typ, frozenset()) | ({name_key} if name_key else set())
    return sorted(k for k in changed if k in fixed or k.split(".")[0] in fixed)


def changed_paths(old: Any, new: Any, prefix: str = "") -> set[str]:
    """Dotted paths where two plain values differ; two levels deep, as detailed diffs go."""
    if old == new:
        return set()
    if isinstance(old, dict) and isinstance(new, dict) and prefix.count(".") < 1:
        keys = set(old) | set(new)
        return set().union(*(changed_paths(old.get(k), new.get(k), f"{prefix}{k}.") for k in keys))
    return {prefix.rstrip(".") or "*"}


def unknown_where_missing(given: dict[str, Any], answered: dict[str, Any]) -> dict[str, Any]:
    """`given`, with UNKNOWN at every key the answer has and `given` lacks, at any depth."""
    result = dict(given)
    for key, value in answered.items():
        if key not in result:
            result[key] = UNKNOWN
        elif isinstance(value, dict) and isinstance(result[key], dict) and mocks.SIG_KEY not in result[key]:
            result[key] = unknown_where_missing(result[key], value)
    return result


def remark_secrets(raw: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """`state` with every value secret whose input, at the same path, was secret."""
    result = dict(state)
    for key, value in raw.items():
        if isinstance(value, dict) and value.get(mocks.SIG_KEY) == mocks.SECRET_SIG:
            result[key] = {mocks.SIG_KEY: mocks.SECRET_SIG, "value": plain(result.get(key))}
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = remark_secrets(value, result[key])
    return result


def to_dict(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    return json_format.MessageToDict(struct) if struct is not None else {}


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def plain(value: Any) -> Any:
    return mocks.reveal(value)


def stack_of(urn: str) -> str:
    return urn.split("::")[0].rsplit(":", 1)[-1]


class Cloud:
    """What exists, one file per object, shared by every provider process of a test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, scope: str, typ: str, rid: str) -> Path:
        # The type is part of the key: a Service and a Deployment may share "namespace/name".
        return self.root / (hashlib.sha256(f"{scope}|{typ}|{rid}".encode()).hexdigest()[:32] + ".json")

    def put(self, scope: str, typ: str, rid: str, record: dict[str, Any]) -> None:
        path = self._path(scope, typ, rid)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"scope": scope, "id": rid, **record}))
        tmp.replace(path)

    def get(self, scope: str, typ: str, rid: str) -> dict[str, Any] | None:
        path = self._path(scope, typ, rid)
        return json.loads(path.read_text()) if path.exists() else None

    def delete(self, scope: str, typ: str, rid: str) -> None:
        self._path(scope, typ, rid).unlink(missing_ok=True)

    def find(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        return next(iter(self.find_all(predicate)), None)

    def find_all(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        records = (json.loads(path.read_text()) for path in sorted(self.root.glob("*.json")))
        return [record for record in records if predicate(record)]


def _reports_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: StandIn, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except ProviderError as err:
            context.abort(grpc.StatusCode.UNKNOWN, str(err))
        except Exception:
            context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())

    return wrapper


class ProviderError(Exception):
    """An error the real service would answer, shown to the user as the provider's message."""


class StandIn(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, package: str, version: str) -> None:
        self.package = package
        self.version = version
        self.config: dict[str, Any] = {}
        self.cloud = Cloud(Path(os.environ["MUSICSTORE_STANDIN_CLOUD"]))
        self.failing = {n for n in os.environ.get("MUSICSTORE_STANDIN_FAIL", "").split(",") if n}
        self.registries: dict[str, dict[str, str]] = json.loads(os.environ.get("MUSICSTORE_STANDIN_REGISTRIES") or "{}")
        self.kubeconfigs: dict[str, str] = json.loads(os.environ.get("MUSICSTORE_STANDIN_KUBECONFIGS") or "{}")

    @property
    def scope(self) -> str:
        return self.package

    # --- provider configuration -------------------------------------------------------------
    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:  # noqa: N802
        return plugin_pb2.PluginInfo(version=self.version)

    def CheckConfig(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        olds, news = plain(to_dict(request.old_inputs or request.olds)), plain(to_dict(request.news))
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k))
        kind = provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE
        return provider_pb2.DiffResponse(changes=kind, diffs=changed)

    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.config = to_dict(request.args) or {k.rsplit(":", 1)[-1]: v for k, v in request.variables.items()}
        # Like the real providers, it previews: the engine then takes a create's or update's
        # outputs from here, in the provider's shape, rather than the raw inputs.
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    # --- resources --------------------------------------------------------------------------
    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    @_reports_errors
    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        olds = plain(to_dict(request.old_inputs) if request.HasField("old_inputs") else to_dict(request.olds))
        news = plain(to_dict(request.news))
        for key in request.ignoreChanges:
            top = key.split(".")[0]
            if top in olds:
                news[top] = olds[top]
            else:
                news.pop(top, None)
        changed = changed_paths(olds, news)
        if not changed:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        replaces = replace_keys(request.type, changed)
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME,
            diffs=sorted({k.split(".")[0] for k in changed}),
            replaces=sorted({k.split(".")[0] for k in replaces}),
            # Azure names are the resource's identity: the old one must go before the new one comes.
            deleteBeforeReplace=bool(replaces) and request.type.startswith("azure-native:"),
        )

    @_reports_errors
    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        if request.preview:
            return provider_pb2.CreateResponse(properties=to_struct(self._preview(request.type, request.properties)))
        rid, state = self._apply(request.type, request.name, request.urn, to_dict(request.properties))
        return provider_pb2.CreateResponse(id=rid, properties=to_struct(state))

    @_reports_errors
    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        if request.preview:
            return provider_pb2.UpdateResponse(properties=to_struct(self._preview(request.type, request.news)))
        news = to_dict(request.news)
        if request.type == CLUSTER:
            record = self.cloud.get(self.scope, CLUSTER, request.id)
            known = {p["name"] for p in self._pools(record)} if record else set()
            introduced = sorted({p.get("name") for p in news.get("agentPoolProfiles") or []} - known)
            if introduced:
                raise ProviderError(
                    'Code="BadRequest" Message="A new agent pool was introduced. Adding agent pools to an existing'
                    " cluster is not allowed through managed cluster operations. For agent pool specific change,"
                    f' please use per agent pool operations" Target="agentPoolProfiles" ({", ".join(introduced)})'
                )
            # AKS keeps the pools a cluster update does not name; what it reports lists them all.
            rid, state = self._apply(request.type, request.name, request.urn, news)
            updated = self.cloud.get(self.scope, CLUSTER, rid)
            if updated:
                state["agentPoolProfiles"] = self._pools(updated)
            return provider_pb2.UpdateResponse(properties=to_struct(state))
        _, state = self._apply(request.type, request.name, request.urn, news)
        return provider_pb2.UpdateResponse(properties=to_struct(state))

    @_reports_errors
    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        record = self.cloud.get(self.scope, request.type, request.id)
        if record is None:
            return provider_pb2.ReadResponse(id="")
        if request.type == CLUSTER:
            # The provider copies into the inputs only what changed in Azure since the state was
            # written: the pools made after the cluster, once.
            state, inputs = dict(record["state"]), to_dict(request.inputs)
            state["agentPoolProfiles"] = self._pools(record)
            if plain(to_dict(request.properties)).get("agentPoolProfiles") != state["agentPoolProfiles"]:
                inputs["agentPoolProfiles"] = state["agentPoolProfiles"]
            return provider_pb2.ReadResponse(id=request.id, properties=to_struct(state), inputs=to_struct(inputs))
        return provider_pb2.ReadResponse(id=request.id, properties=to_struct(record["state"]), inputs=request.inputs)

    @_reports_errors
    def Delete(self, request: Any, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        self.cloud.delete(self.scope, request.type, request.id)
        return empty_pb2.Empty()

    @_reports_errors
    def Invoke(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        args = plain(to_dict(request.args))
        result = mocks.call(request.tok, args)
        if request.tok == "azure-native:containerregistry:listRegistryCredentials":
            record = self.cloud.find(lambda r: r["state"].get("name") == args.get("registryName"))
            local = (record or {}).get("local")
            if local:
                result = {
                    "username": local["username"],
                    "passwords": [{"name": "password", "value": local["password"]}],
                }
        if request.tok == "azure-native:containerservice:listManagedClusterAdminCredentials":
            name = str(args.get("resourceName"))
            kubeconfig = self.kubeconfigs.get(name)
            if kubeconfig is None:
                # Never the mocks' made-up kubeconfig: the real provider would only fail later,
                # unable to reach it, far from the cause.
                known = ", ".join(sorted(self.kubeconfigs)) or "none"
                raise ProviderError(f"no Kubernetes control plane runs for the AKS cluster {name!r} (running: {known})")
            # AKS returns the kubeconfig base64-encoded (CredentialResult.value is bytes).
            value = base64.b64encode(kubeconfig.encode()).decode()
            result = {"kubeconfigs": [{"name": "clusterAdmin", "value": value}]}
        return provider_pb2.InvokeResponse(**{"return": to_struct(result)})

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        return empty_pb2.Empty()

    def _pools(self, cluster: dict[str, Any]) -> list[dict[str, Any]]:
        """Every pool of the cluster, as AKS reports them: inline profiles first, then AgentPools."""
        inline = [p for p in cluster["state"].get("agentPoolProfiles") or [] if p.get("mode") == "System"]
        name = cluster["state"].get("name")
        pools = self.cloud.find_all(lambda r: r.get("type") == POOL and r["state"].get("resourceName") == name)
        keys = ("mode", "osType", "osSKU", "vmSize", "count", "maxPods", "vnetSubnetID", "orchestratorVersion")
        reported = [{"name": p["state"]["name"], **{k: p["state"][k] for k in keys if k in p["state"]}} for p in pools]
        return inline + sorted(reported, key=lambda p: str(p["name"]))

    def _preview(self, typ: str, inputs: struct_pb2.Struct) -> dict[str, Any]:
        """What a preview answers: the inputs in the provider's shape; what Azure computes
        (ids, addresses, login servers, a secret's version URI) stays unknown, nested ones
        too: azure-native's PreviewOutputs marks every response property the inputs lack as
        computed (its `convert` package, `PreviewOutputs`)."""
        shaped = mocks.as_outputs(typ, to_dict(inputs))
        if not typ.startswith("azure-native:"):
            return shaped
        _, answered = mocks.answer(typ, "preview", plain(shaped), stack="preview")
        return unknown_where_missing(shaped, answered)

    def _apply(self, typ: str, name: str, urn: str, raw_inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if name in self.failing:
            raise ProviderError(f"{typ} {name}: the service answered 409 Conflict (a fault the test asked for)")
        inputs = plain(raw_inputs)
        stack = stack_of(urn)
        rid, state = mocks.answer(typ, name, inputs, stack=stack)
        record: dict[str, Any] = {"type": typ, "name": name, "stack": stack}
        if typ == "azure-native:containerregistry:Registry":
            team = (inputs.get("tags") or {}).get("team", "")
            local = self.registries.get(f"{stack}/{team}")
            if local:
                state["loginServer"] = local["server"]
                record["local"] = local
        # Secret inputs stay secret in what is answered, nested ones too (the engine re-marks only
        # top-level keys; the bridged azuredevops provider marks its sensitive fields, such as a
        # Kubernetes connection's service-account token, wherever they sit).
        state = remark_secrets(raw_inputs, state)
        self.cloud.put(self.scope, typ, rid, {**record, "state": state})
        return rid, state


def main() -> None:
    package, version = sys.argv[1], sys.argv[2]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(StandIn(package, version), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
