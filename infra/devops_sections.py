"""Reading the build agents' and Azure DevOps' sections of the configuration: the agent VMs, their
pool and remote desktop sources, and what the stack manages in Azure DevOps (the projects, the
pools, the pipelines' sources and state backend). Each reader checks one rule at a time and raises
`ConfigError` naming the key, the value and the rule."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from components.naming import agent_pool_name, devops_name_problem, devops_project_name
from infra.config_sections import VM_SIZE, Reader, boolean, read_windows_user
from infra.stack_config import AgentConfig, ConfigError, DevOpsConfig, MissingSecretError, Secret

AZDO_URL = re.compile(
    r"^https://(dev\.azure\.com/[A-Za-z0-9][A-Za-z0-9-]{0,49}|[a-z0-9][a-z0-9-]{0,49}\.visualstudio\.com)/?$"
)


VERSION = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,4}$")


HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")


POOL_NAME = re.compile(r"^[A-Za-z0-9._{}-][A-Za-z0-9 ._{}-]{0,63}$")


# Sources that would open remote desktop to the whole Internet.
OPEN_SOURCES = frozenset({"*", "any", "internet", "0.0.0.0/0", "0.0.0.0"})


def read_agents(read: Reader, team_count: int) -> AgentConfig:
    count = read.integer("agentCount", 0, 10)
    pool = read.string("agentPoolName", POOL_NAME, "must be an Azure DevOps pool name of 1-64 characters")
    if team_count > 1 and "{team}" not in pool:
        raise ConfigError("agentPoolName", pool, "must contain {team} when the stack serves several teams")
    url = read.raw("azdoOrganizationUrl")
    pat = read.values.get("azdoPat") or None
    if count and not AZDO_URL.fullmatch(url):
        raise ConfigError(
            "azdoOrganizationUrl", url, "must be https://dev.azure.com/ORGANIZATION when agentCount is above 0"
        )
    if count and not pat:
        raise MissingSecretError("azdoPat", "when agentCount is above 0")
    return AgentConfig(
        count=count,
        vm_size=read.string("agentVmSize", VM_SIZE, "must be an Azure VM size such as Standard_D4s_v5"),
        os_disk_size_gb=read.integer("agentOsDiskSizeGb", 128, 2048),
        spot=boolean(read, "agentSpot"),
        admin_username=read_windows_user(read, "agentAdminUsername"),
        pool_name=pool,
        rdp_source_ranges=read_rdp_sources(read.json("agentRdpSourceRanges", list, "a JSON list of IPv4 CIDR ranges")),
        auto_shutdown=boolean(read, "agentAutoShutdown"),
        daily_hours=read.integer("agentDailyHours", 1, 24),
        shutdown_time=read.string("agentShutdownTime", HHMM, "must be a 24-hour time HHmm such as 1900"),
        shutdown_time_zone=read.string(
            "agentShutdownTimeZone",
            re.compile(r"^[A-Za-z][A-Za-z0-9 .+()-]{2,63}$"),
            "must be a Windows time zone id such as W. Europe Standard Time",
        ),
        docker_version=read.string("agentDockerVersion", VERSION, "must be a version such as 27.3.1"),
        package_version=read.string("agentPackageVersion", VERSION, "must be a version such as 4.252.0"),
        organization_url=url.rstrip("/"),
        pat=Secret(pat) if pat else None,
    )


def read_rdp_sources(ranges: list[Any]) -> tuple[str, ...]:
    for i, source in enumerate(ranges):
        key = f"agentRdpSourceRanges[{i}]"
        if not isinstance(source, str) or source.strip().lower() in OPEN_SOURCES:
            raise ConfigError(key, source, "remote desktop is never opened to any source or the Internet")
        try:
            net = ipaddress.ip_network(source, strict=True)
        except ValueError:
            raise ConfigError(key, source, "must be an IPv4 range in CIDR form, host bits zero") from None
        if net.version != 4 or net.prefixlen < 8:
            raise ConfigError(key, source, "must be an IPv4 range of /8 or narrower")
    return tuple(ranges)


SOURCE_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?/[^\s]*$")
# The state backends `pulumi login` takes that another machine can reach (pulumi/pulumi
# pkg/backend/diy: azblob://, s3://, gs://; anything https:// is a service backend).
BACKEND_URL = re.compile(r"^(azblob|s3|gs)://[^\s]+$|^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$")


def read_devops(read: Reader, teams: tuple[str, ...], agents: AgentConfig) -> DevOpsConfig | None:
    """azdoManage: empty manages Azure DevOps where an organization is set; false leaves it alone.
    Every project and pool name is checked against Azure DevOps' naming rules here, before
    anything is registered, and a rule a team name breaks is reported for that team."""
    manage_text = read.raw("azdoManage")
    if manage_text not in ("", "true", "false"):
        raise ConfigError(
            "azdoManage", manage_text, "must be true, false or empty (on where azdoOrganizationUrl is set)"
        )
    url = agents.organization_url
    manage = manage_text == "true" or (manage_text == "" and bool(url))
    if not manage:
        return None
    if not AZDO_URL.fullmatch(url):
        raise ConfigError(
            "azdoOrganizationUrl", url, "must be https://dev.azure.com/ORGANIZATION when azdoManage is on"
        )
    # Not the agents' PAT: every agent VM can read that one from its Key Vault, and with it a
    # team's pipeline job would manage every team's project.
    admin_pat = read.values.get("azdoAdminPat") or None
    if admin_pat is None:
        raise MissingSecretError("azdoAdminPat", "when azdoManage is on")
    if agents.pat is not None and admin_pat == agents.pat.reveal():
        raise ConfigError(
            "azdoAdminPat",
            Secret(admin_pat),
            "must not be the agents' azdoPat, which every agent VM can read: give it a token of its own",
        )
    existing = read.raw("azdoProject")
    if existing and len(teams) > 1:
        raise ConfigError("azdoProject", existing, "names an existing project, so the stack may serve only one team")
    project = existing or "{team}"
    for i, team in enumerate(teams):
        key, value = ("azdoProject", existing) if existing else _team_key(read, i, team)
        name = devops_project_name(project, team)
        problem = devops_name_problem(name)
        if problem:
            raise ConfigError(key, value, f"gives the Azure DevOps project name {name!r}: {problem}")
        pool = agent_pool_name(agents.pool_name, team)
        problem = devops_name_problem(pool)
        if problem:
            raise ConfigError(
                "agentPoolName", agents.pool_name, f"gives the Azure DevOps agent pool name {pool!r}: {problem}"
            )
    app_source = read.string("appSourceUrl", SOURCE_URL, "must be the https:// URL of a public Git repository")
    toolkit = read.raw("toolkitSourceUrl")
    if toolkit and not SOURCE_URL.fullmatch(toolkit):
        raise ConfigError("toolkitSourceUrl", toolkit, "must be empty or the https:// URL of a Git repository")
    backend = read.raw("pulumiBackendUrl")
    if backend and not BACKEND_URL.fullmatch(backend):
        raise ConfigError(
            "pulumiBackendUrl",
            backend,
            "must be empty or a backend the release's agent can reach: azblob://CONTAINER?storage_account=ACCOUNT"
            " or an https:// service (a file:// backend is on one machine only)",
        )
    return DevOpsConfig(
        manage=True,
        organization_url=url,
        project=project,
        existing_project=bool(existing),
        app_source_url=app_source,
        toolkit_source_url=toolkit,
        backend_url=backend,
        admin_pat=Secret(admin_pat),
    )


def _team_key(read: Reader, index: int, team: str) -> tuple[str, str]:
    """The key and value a user changes for a team's name: its entry in teams, or teamPrefix."""
    if read.values.get("teamCount", "0") not in ("", "0"):
        return "teamPrefix", read.values.get("teamPrefix", "")
    return f"teams[{index}]", team
