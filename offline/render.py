"""The offline plan as text (`render`) and as the --json document (`document`)."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from typing import Any

from offline import graph, recording
from offline.findings import Finding
from offline.plan import Plan

SCHEMA_VERSION = 1


# The inputs worth a glance in the tree, per type; --json has them all.
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "location"),
    "azure-native:network:VirtualNetwork": ("addressSpace.addressPrefixes",),
    "azure-native:network:Subnet": ("subnetName", "addressPrefix"),
    "azure-native:containerregistry:Registry": ("registryName", "sku.name", "adminUserEnabled"),
    "azure-native:containerregistry:Task": ("taskName", "status", "trigger.timerTriggers.0.schedule"),
    "azure-native:containerservice:ManagedCluster": (
        "resourceName",
        "kubernetesVersion",
        "sku.tier",
        "networkProfile.networkPlugin",
        "networkProfile.networkPluginMode",
        "windowsProfile.adminUsername",
        "windowsProfile.adminPassword",
    ),
    "azure-native:containerservice:AgentPool": ("agentPoolName", "osType", "osSKU", "vmSize", "count", "maxCount"),
    "azure-native:authorization:RoleAssignment": ("principalType", "roleDefinitionId"),
    "azure-native:network:NetworkSecurityGroup": ("networkSecurityGroupName",),
    "azure-native:network:NatGateway": ("natGatewayName", "sku.name"),
    "azure-native:network:PublicIPAddress": ("publicIpAddressName", "sku.name"),
    "azure-native:network:NetworkInterface": ("networkInterfaceName",),
    "azure-native:compute:VirtualMachine": (
        "vmName",
        "hardwareProfile.vmSize",
        "storageProfile.imageReference.sku",
        "osProfile.computerName",
        "osProfile.adminPassword",
        "priority",
    ),
    # Not its protectedSettings: the packed bootstrap script, several KB (--json has it).
    "azure-native:compute:VirtualMachineExtension": ("type", "typeHandlerVersion", "settings"),
    "azure-native:devtestlab:GlobalSchedule": ("name", "dailyRecurrence.time", "timeZoneId"),
    "azure-native:keyvault:Vault": ("vaultName", "properties.enableRbacAuthorization"),
    "azure-native:keyvault:Secret": ("secretName", "properties.value"),
    "pulumi:providers:kubernetes": ("kubeconfig", "deleteUnreachable"),
    "pulumi:pulumi:StackReference": ("name",),
    "pulumi-python:dynamic:Resource": ("repository", "digest", "tag", "sourceServer", "targetServer", "sourcePassword"),
    "kubernetes:core/v1:Namespace": ("metadata.name",),
    "kubernetes:core/v1:Secret": ("metadata.name", "stringData"),
    "kubernetes:core/v1:Service": ("metadata.name", "spec.type", "spec.externalTrafficPolicy"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("metadata.name", "spec.resources.requests.storage"),
    "kubernetes:apps/v1:Deployment": (
        "metadata.name",
        "spec.replicas",
        "spec.template.spec.containers.0.image",
        "spec.template.spec.nodeSelector",
    ),
}


def render(plan: Plan) -> str:
    rec = plan.recording
    out = [
        f"Offline plan of stack {plan.stack} (project {plan.project})",
        f"  from Pulumi.yaml and Pulumi.{plan.stack}.yaml under the Pulumi engine's mocks: no cloud, no credentials;"
        " secrets show as [secret]",
    ]
    for name in plan.references:
        out.append(f"  stack reference {name}: answered from the offline plan of {name}")
    expiry = plan.config.expires_at
    out.append(f"  expires: {expiry:%Y-%m-%dT%H:%M:%SZ}" if expiry else "  expires: never (no expiresAt)")
    if plan.needed:
        out += ["", "Needed before `pulumi up` (planned with marked placeholders)"]
        out += [
            f"  {key}: pulumi config set --stack {plan.stack}"
            f"{' --secret' if plan.config_values.get(key) == '[secret]' else ''} {key.split(':', 1)[1]}"
            for key in plan.needed
        ]
    out += ["", f"Resources ({len(rec.resources)})", *_tree(rec)]
    out += ["", "Count by type"]
    out += [f"  {n:4}  {typ}" for typ, n in sorted(Counter(r.type for r in rec.resources.values()).items())]
    out += ["", "Findings"]
    out += _finding_lines(plan.findings) or ["  none: every rule holds"]
    out += ["", f"Expected provisioning time: {plan.critical.total_minutes:g} min along the critical path"]
    elapsed = 0.0
    for urn, minutes in plan.critical.chain:
        reg = rec.resources[urn]
        elapsed += minutes
        out.append(f"  {minutes:5.1f}  (at {elapsed:5.1f})  {reg.type.split(':')[-1]} {reg.name}")
    out += ["", *_cost_section(plan), "", *_quota_section(plan)]
    out += ["", "Outputs"]
    out += [f"  {k}: {json.dumps(v)}" for k, v in _flatten(recording.mask(rec.stack_outputs))]
    return "\n".join(out) + "\n"


def document(plan: Plan) -> dict[str, Any]:
    """The --json document; README.md describes its shape."""
    rec = plan.recording
    depends = graph.edges(rec)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "project": plan.project,
        "stack": plan.stack,
        "config": plan.config_values,
        "neededBeforeUp": plan.needed,
        "references": {name: recording.mask(ref.recording.stack_outputs) for name, ref in plan.references.items()},
        "resources": [
            {
                "urn": reg.urn,
                "type": reg.type,
                "name": reg.name,
                "parent": reg.parent,
                "custom": reg.custom,
                "provider": reg.provider or None,
                "dependencies": depends[reg.urn],
                "inputs": reg.masked_inputs(),
                "typicalMinutes": graph.typical_minutes(reg),
            }
            for reg in sorted(rec.resources.values(), key=lambda r: r.urn)
        ],
        "counts": dict(sorted(Counter(r.type for r in rec.resources.values()).items())),
        "outputs": recording.mask(rec.stack_outputs),
        "findings": [vars(f) for f in plan.findings],
        "expiresAt": plan.config.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if plan.config.expires_at else None,
        "cost": _cost_document(plan),
        "quota": [
            {"quota": q.quota, "needed": q.needed, "limit": q.limit, "key": q.key, "exceeded": q.exceeded}
            for q in plan.quotas
        ],
        "criticalPath": {
            "totalMinutes": plan.critical.total_minutes,
            "chain": [
                {"urn": u, "type": rec.resources[u].type, "name": rec.resources[u].name, "minutes": m}
                for u, m in plan.critical.chain
            ],
        },
    }


def _finding_lines(found: list[Finding], *, group_over: int = 3) -> list[str]:
    """One line a finding; the same finding on many resources (a registry per team) as one."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for f in found:
        groups.setdefault((f.severity, f.rule, f.message), []).append(f.resource)
    lines = []
    for (severity, rule, message), resources in groups.items():
        if len(resources) > group_over:
            shown = ", ".join(resources[:group_over])
            where = f"{len(resources)} resources ({shown}, ...)"
            lines.append(f"  {Finding(severity, rule, where, message).line()}")
        else:
            lines += [f"  {Finding(severity, rule, r, message).line()}" for r in resources]
    return lines


def _cost_section(plan: Plan) -> list[str]:
    report = plan.cost
    if report is None:
        return []
    h = report.session_hours
    out = [
        f"Cost estimate (USD, list prices of the table of {report.table.date}: {report.table.source})",
        f"  {'per hour':>10} {f'per {h} h session':>18} {'per month':>11}  team    resource: item",
    ]
    for line in sorted(report.lines, key=lambda x: (x.team != "shared", x.team, x.resource, x.item)):
        if line.hourly is None:
            out.append(f"  {'unknown':>10} {'unknown':>18} {'unknown':>11}  {line.team:7} {line.resource}: {line.item}")
            continue
        out.append(
            f"  {line.hourly:10.4f} {line.session(h) or 0:18.2f} {line.monthly or 0:11.2f}  {line.team:7} "
            f"{line.resource}: {line.item}"
        )
    out.append("  totals:")
    for team in ("shared", *report.teams):
        out.append(f"    {team}: {report.totals(team).show()}")
    out.append(f"    stack: {report.totals().show()}")
    for reason, amount in sorted(report.savings().items()):
        at_ceiling = any(line.capped and reason in line.saving_monthly for line in report.lines)
        out.append(f"  saved by {reason}: {'at most ' if at_ceiling else ''}${amount:,.2f}/month")
    unknown = sorted({line.meter for line in report.unknown()})
    if unknown:
        out.append(f"  unknown prices (not in the table; the totals leave them out): {', '.join(unknown)}")
    capped = sorted({line.meter for line in report.capped()})
    if capped:
        out.append(
            "  at their ceiling (no Spot price in the table; a Spot VM bills at most its maxPrice, -1 being "
            f"the on-demand price): {', '.join(capped)}"
        )
    return out


def _quota_section(plan: Plan) -> list[str]:
    out = ["Quota (limits from config; set them from `az vm list-usage -l REGION`)"]
    for row in plan.quotas:
        mark = "EXCEEDED" if row.exceeded else "ok"
        out.append(f"  {mark:8} {row.quota}: needs {row.needed}, limit {row.limit} ({row.key})")
    return out


def _cost_document(plan: Plan) -> dict[str, Any] | None:
    report = plan.cost
    if report is None:
        return None

    def totals(team: str | None) -> dict[str, Any]:
        t = report.totals(team)
        return {
            "hourly": round(t.hourly, 4),
            "session": round(t.session, 2),
            "monthly": round(t.monthly, 2),
            "unknownItems": t.unknown,
            "cappedItems": t.capped,
        }

    return {
        "currency": "USD",
        "priceTable": {"date": report.table.date, "source": report.table.source},
        "sessionHours": report.session_hours,
        "lines": [
            {
                "resource": line.resource,
                "team": line.team,
                "item": line.item,
                "meter": line.meter,
                "quantity": line.quantity,
                "hourly": None if line.hourly is None else round(line.hourly, 6),
                "monthly": None if line.monthly is None else round(line.monthly, 2),
                "session": None if line.hourly is None else round(line.session(report.session_hours) or 0.0, 2),
                "savingMonthly": {k: round(v, 2) for k, v in line.saving_monthly.items()},
                "atCeiling": line.capped,
            }
            for line in report.lines
        ],
        "teams": {team: totals(team) for team in ("shared", *report.teams)},
        "stack": totals(None),
        "savingsMonthly": {k: round(v, 2) for k, v in report.savings().items()},
    }


def _tree(rec: recording.Recording) -> list[str]:
    children: dict[str, list[recording.Registration]] = {}
    for reg in rec.resources.values():
        children.setdefault(reg.parent if reg.parent in rec.resources else "", []).append(reg)
    lines = [f"{rec.stack} (pulumi:pulumi:Stack)"]

    def walk(parent: str, indent: str) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (r.custom, r.type, r.name))
        for i, reg in enumerate(kids):
            last = i == len(kids) - 1
            props = " ".join(f"{p}={_short(reg, p)}" for p in KEY_PROPERTIES.get(reg.type, ()) if _has(reg, p))
            props += _task_command(reg)
            lines.append(f"{indent}{'└─' if last else '├─'} {reg.name}  {reg.type}  {props}".rstrip())
            walk(reg.urn, indent + ("   " if last else "│  "))

    walk("", "")
    return lines


def _task_command(reg: recording.Registration) -> str:
    """An ACR task's command, out of its base64 step (`cmd: ...` lines): what it will run."""
    encoded = _lookup(reg, "step.encodedTaskContent") if reg.type == "azure-native:containerregistry:Task" else None
    if not isinstance(encoded, str):
        return ""
    try:
        text = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return " step=(not base64)"
    commands = [line.split("cmd:", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("- cmd:")]
    return "".join(f" cmd={c}" for c in commands)


def _lookup(reg: recording.Registration, path: str) -> Any:
    value: Any = reg.masked_inputs()
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)] if part.isdigit() and int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _has(reg: recording.Registration, path: str) -> bool:
    return _lookup(reg, path) is not None


def _short(reg: recording.Registration, path: str) -> str:
    value = _lookup(reg, path)
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [item for k, v in sorted(value.items()) for item in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), value)]
