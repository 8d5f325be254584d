"""The project's other stacks, for the names a stack would share with them: a venue file copied
for a new city but not given its own `environment` deploys into the first venue's resource group
under the same names (the second `pulumi up` takes the first venue's resources over, and its
`pulumi destroy` deletes them); one left in the same Azure DevOps organization makes the same
projects, which that organization already has, so its `pulumi up` stops there. Overlapping
address ranges only keep the two networks from ever being peered."""

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
                f" names, and either one's destroy would delete the other's; give this stack its own environment",
            )
        )
    if cfg.devops and theirs.devops and _same_url(cfg.devops.organization_url, theirs.devops.organization_url):
        mine = {cfg.devops.project_for(team) for team in cfg.teams}
        shared = sorted(mine & {theirs.devops.project_for(team) for team in theirs.teams})
        if shared:
            listed = ", ".join(shared[:3]) + (f" and {len(shared) - 3} more" if len(shared) > 3 else "")
            found.append(
                Finding(
                    "warning",
                    "projects-of-another-stack",
                    "stack",
                    f"azdoOrganizationUrl: {other} makes the projects {listed} in {cfg.devops.organization_url}"
                    " too: this stack's pulumi up would stop at them; give this venue its own organization"
                    " (or teamPrefix)",
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


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()
