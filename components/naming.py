"""Physical Azure names and the arithmetic behind them.

Every name Azure constrains is made here, by plain functions that the tests check against
the limits in shared/reference/azure-facts.md. Components call these; nothing else invents
an Azure name.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import quote

from components.registry_purge import is_build_tag

ACR_NAME = re.compile(r"^[a-z0-9]{5,50}$")
WINDOWS_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,5}$")
LINUX_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Key Vault: 3-24 alphanumerics and hyphens, a letter first, a letter or digit last, no "--".
KEY_VAULT_NAME = re.compile(r"^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")

ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
NETWORK_CONTRIBUTOR_ROLE = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"


def registry_name(prefix: str, environment: str, team: str, suffix: str) -> str:
    """ACR name: letters and digits only, 5-50 characters, globally unique through `suffix`."""
    stem = re.sub(r"[^a-z0-9]", "", f"{prefix}{environment}{team}".lower())
    name = f"{stem[: 50 - len(suffix)]}{suffix}"
    if not ACR_NAME.fullmatch(name):
        raise ValueError(f"registry name {name!r} is not 5-50 lowercase letters and digits")
    return name


def key_vault_name(prefix: str, environment: str, suffix: str) -> str:
    """Key Vault name: `kv-<prefix>-<environment>-<suffix>` cut to 24 characters. Vault names
    are global and stay reserved while a deleted vault is soft-deleted, so `suffix` (random,
    kept in state) gives a stack that is torn down and made again a fresh name."""
    stem = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", f"kv-{prefix}-{environment}".lower()))
    name = f"{stem[: 23 - len(suffix)].strip('-')}-{suffix}"
    if not KEY_VAULT_NAME.fullmatch(name):
        raise ValueError(f"key vault name {name!r} is not 3-24 letters, digits and single hyphens, from a letter")
    return name


def cluster_name(prefix: str, environment: str) -> str:
    return dns_label(f"{prefix}-{environment}-aks")


def resource_group_name(prefix: str, environment: str) -> str:
    return f"rg-{prefix}-{environment}"


def dns_label(text: str, *, limit: int = 63) -> str:
    """Lowercase letters, digits and hyphens, starting and ending alphanumeric."""
    label = re.sub(r"[^a-z0-9-]", "-", text.lower())[:limit].strip("-")
    if not DNS_LABEL.fullmatch(label):
        raise ValueError(f"{text!r} gives no valid DNS label")
    return label


def namespace_name(team: str) -> str:
    return dns_label(f"musicstore-{team}")


def role_definition_id(scope_id: str, role_guid: str) -> str:
    """Full role definition id for a role, in the subscription that `scope_id` lives in."""
    parts = scope_id.split("/")
    if len(parts) < 3 or parts[1] != "subscriptions" or not parts[2]:
        raise ValueError(f"{scope_id!r} is not an Azure resource id")
    return f"/subscriptions/{parts[2]}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def split_subnets(vnet_cidr: str) -> dict[str, str]:
    """The stack's subnets: the first quarter of the address space for AKS nodes, the
    second for build agents. The rest stays free for later subnets."""
    network = ipaddress.ip_network(vnet_cidr, strict=True)
    quarters = list(network.subnets(prefixlen_diff=2))
    return {"aks": str(quarters[0]), "agents": str(quarters[1])}


def dns_service_ip(service_cidr: str) -> str:
    """The cluster DNS address: the tenth address of the service range, as AKS suggests."""
    return str(ipaddress.ip_network(service_cidr, strict=True).network_address + 10)


def image_reference(login_server: str, repository: str, tag: str, digest: str | None) -> str:
    """`<registry>/<repo>@<digest>` when a digest is known, so the deployed image is exactly
    the built one; `<registry>/<repo>:<tag>` otherwise."""
    if digest:
        return f"{login_server}/{repository}@{digest}"
    return f"{login_server}/{repository}:{tag}"


COMPUTER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


def computer_name(team: str, index: int) -> str:
    """Windows computer name of a team's agent: at most 15 characters, unique per stack.
    Long team names are cut and given a short hash so that two cuts cannot collide."""
    suffix = f"-ag{index}"
    room = 15 - len(suffix)
    stem = team if len(team) <= room else team[: room - 3] + hashlib.sha256(team.encode()).hexdigest()[:3]
    name = f"{stem}{suffix}"
    if not COMPUTER_NAME.fullmatch(name):
        raise ValueError(f"computer name {name!r} is not 1-15 lowercase letters, digits and hyphens")
    return name


def vm_name(prefix: str, environment: str, team: str, index: int) -> str:
    return dns_label(f"vm-{prefix}-{environment}-{team}-ag{index}", limit=64)


def shutdown_schedule_name(vm: str) -> str:
    """DevTest Labs only attaches a VM's auto-shutdown under this exact name."""
    return f"shutdown-computevm-{vm}"


SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z][0-9A-Za-z.-]*)?$")
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def image_tags(*, build_id: str, branch: str, version: str | None = None, release: bool = False) -> list[str]:
    """The tags of a built image: the build id, the branch (`develop`, `main`, a feature
    branch made tag-safe) and, when given, the semantic version; `latest` only for a
    release, which must have a version. The registries' purge removes old build ids by their
    form (digits, components.registry_purge), so a build id must have it and a branch must not."""
    branch = branch.removeprefix("refs/heads/")
    if not is_build_tag(build_id):
        raise ValueError(f"build id {build_id!r} is not Build.BuildId's whole number, which the registry purge expects")
    branch_tag = _tag_safe(branch, "branch")
    if is_build_tag(branch_tag):
        raise ValueError(f"branch {branch!r} would read as a build id, which the registry purge removes")
    tags = [build_id, branch_tag]
    if version:
        if not SEMVER.fullmatch(version):
            raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH[-PRERELEASE]")
        tags.append(version)
    if release:
        if not version:
            raise ValueError("a release needs a semantic version")
        if "-" in version:
            raise ValueError(f"a prerelease ({version}) is never tagged latest")
        tags.append("latest")
    return list(dict.fromkeys(tags))


def _tag_safe(text: str, what: str) -> str:
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", text.strip()).lstrip(".-")[:128]
    if not IMAGE_TAG.fullmatch(tag) or tag == "latest":
        raise ValueError(f"{what} {text!r} gives no image tag")
    return tag


# Tags whose value changes while the stack lives (a session extended). Kept off what a tag change
# would turn into real work: on a node pool, an agent pool operation on every node (AKS puts the
# cluster's own tags on what it makes for the cluster, not on the pools:
# learn.microsoft.com/azure/aks/use-tags); on the agents' Key Vault secret, a new version, which
# reruns every agent's bootstrap.
MOVING_TAGS = frozenset({"expires-at"})


def stable_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if key not in MOVING_TAGS}


# Azure DevOps names (learn.microsoft.com/azure/devops/organizations/settings/naming-restrictions):
# projects at most 64 characters, none of the characters below, not starting with "_" or ".",
# not ending with ".", and none of the system-reserved names. That page has no section on
# agent pools: their names are held to the project rules, the stricter reading (unsure).
DEVOPS_NAME_LIMIT = 64
DEVOPS_FORBIDDEN_CHARACTERS = frozenset("\\/:*?\"'<>|;#${},+=[]")
DEVOPS_RESERVED_NAMES = frozenset(
    {
        "AUX",
        "CON",
        "NUL",
        "PRN",
        *(f"COM{n}" for n in range(1, 11)),
        *(f"LPT{n}" for n in range(1, 10)),
        "SERVER",
        "SIGNALR",
        "WEB",
        "WEB.CONFIG",
        "BIN",
        "APP_CODE",
        "APP_DATA",
        "APP_GLOBALRESOURCES",
        "APP_LOCALRESOURCES",
        "APP_THEMES",
        "APP_WEBRESOURCES",
        "APP_BROWSERS",
        "DEFAULTCOLLECTION",
    }
)


def devops_name_problem(name: str) -> str | None:
    """Which Azure DevOps naming rule `name` breaks (a project or an agent pool), or None."""
    if not 1 <= len(name) <= DEVOPS_NAME_LIMIT:
        return f"Azure DevOps names are 1-{DEVOPS_NAME_LIMIT} characters"
    bad = sorted({c for c in name if c in DEVOPS_FORBIDDEN_CHARACTERS or ord(c) < 32})
    if bad:
        return f"Azure DevOps names may not contain {' '.join(repr(c) for c in bad)}"
    if name[0] in "_.":
        return "Azure DevOps names may not start with '_' or '.'"
    if name.endswith("."):
        return "Azure DevOps names may not end with '.'"
    if name.upper() in DEVOPS_RESERVED_NAMES:
        return f"{name} is a name Azure DevOps reserves"
    return None


def agent_pool_name(template: str, team: str) -> str:
    """The team's Azure DevOps agent pool: one name for the pool resource and the agents' registration."""
    return template.replace("{team}", team)


def devops_project_name(template: str, team: str) -> str:
    return template.replace("{team}", team)


def devops_web_url(organization_url: str, project: str, path: str) -> str:
    """A page of the team's project; the project name is URL-encoded as Azure DevOps does."""
    return f"{organization_url.rstrip('/')}/{quote(project)}/{path}".rstrip("/")
