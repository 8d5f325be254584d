"""The project's other stacks, for the names a stack would share with them: a venue file copied
for a new city but not given its own `environment` deploys into the first venue's resource group
under the same names (the second `pulumi up` takes the first venue's resources over, and its
`pulumi destroy` deletes them); one left in the same Azure DevOps organization makes the same
projects and agent pools, which that organization already has, so its `pulumi up` stops there.
Overlapping address ranges only keep the two networks from ever being peered."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from components import naming
from infra import config, stack_files
from infra.stack_config import ConfigError, StackConfig
from offline.findings import Finding


def check(stack: str, cfg: StackConfig, root: Path = stack_files.ROOT) -> list[Finding]:
    found: list[Finding] = []
    for other in stack_files.stacks(root):
        if other == stack:
            continue
        try:
            theirs = config.load_stack(other, root, deploying=False)
        except (ConfigError, stack_files.StackFileError):
            continue  # that stack's own plan says what is wrong with it
        found += _between(cfg, other, theirs)
    return found


def _between(cfg: StackConfig, other: str, theirs: StackConfig) -> list[Finding]:
    found = []
    group = naming.resource_group_name(cfg.name_prefix, cfg.environment)
    if group == naming.resource_group_name(theirs.name_prefix, theirs.environment):
        found.append(
            Finding(
                "error",
                "names-of-another-stack",
                "stack",
                f"environment: {cfg.environment!r} with namePrefix {cfg.name_prefix!r} is {other}'s too"
                f" (Pulumi.{other}.yaml): both stacks would deploy into resource group {group} under the same"
                f" names, and either one's destroy would delete the other's; give this stack its own environment"
                f" (or delete Pulumi.{other}.yaml if that stack is gone)",
            )
        )
    organization = _organization(cfg)
    if _same_url(organization, _organization(theirs)):
        pools = _shared([cfg.agents.pool_for(t) for t in cfg.teams], [theirs.agents.pool_for(t) for t in theirs.teams])
        projects = _shared(_made_projects(cfg), _made_projects(theirs))
        if projects or pools:
            names = f"the projects {projects}" if projects else f"the agent pools {pools}"
            key = "azdoOrganizationUrl" if projects else "agentPoolName"
            found.append(
                Finding(
                    "warning",
                    "azure-devops-names-of-another-stack",
                    "stack",
                    f"{key}: {other} uses {names} in {organization} too: while {other} exists this stack's"
                    " pulumi up would stop at them (or its agents join that venue's pools); give this venue"
                    " its own organization (or teamPrefix)",
                )
            )
    mine_net, their_net = ipaddress.ip_network(cfg.vnet_cidr), ipaddress.ip_network(theirs.vnet_cidr)
    if mine_net.overlaps(their_net):
        found.append(
            Finding(
                "warning",
                "address-range-of-another-stack",
                "stack",
                f"vnetCidr: {cfg.vnet_cidr} overlaps {other}'s {theirs.vnet_cidr}: the two networks could never"
                " be peered; give this stack a range of its own",
            )
        )
    return found


def _organization(cfg: StackConfig) -> str:
    """The Azure DevOps organization the stack's projects or agents live in ("" for none)."""
    return cfg.devops.organization_url if cfg.devops else cfg.agents.organization_url if cfg.agents.count else ""


def _made_projects(cfg: StackConfig) -> list[str]:
    """The projects the stack creates; an existing project (azdoProject without {team}) it only uses."""
    if not cfg.devops or cfg.devops.existing_project:
        return []
    return [cfg.devops.project_for(team) for team in cfg.teams]


def _shared(mine: list[str], theirs: list[str]) -> str:
    """The names both lists hold, the first three and how many more; "" for none."""
    both = sorted(set(mine) & set(theirs))
    return ", ".join(both[:3]) + (f" and {len(both) - 3} more" if len(both) > 3 else "")


def _same_url(a: str, b: str) -> bool:
    return bool(a) and a.rstrip("/").lower() == b.rstrip("/").lower()
