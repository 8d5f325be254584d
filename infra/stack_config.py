"""The typed model of a stack's configuration: what `infra.config` parses once and every
component and command reads. Frozen, keyword-only; secrets never print."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pulumi

from components import naming
from components.windows import WINDOWS_VERSION_FOR_OS_SKU
from infra import messages
from infra.stack_files import PLACEHOLDER

PROJECT = "musicstore"
# Environments whose registries hold what prod runs (policy/rules.py PROD_STACKS names the same).
PROD_ENVIRONMENTS = frozenset({"prod", "production"})


class ConfigError(pulumi.RunError):
    """A config value breaks a rule. Its message is one line: key, value and rule.

    A RunError ends `pulumi up` with the message alone, without a traceback."""

    def __init__(self, key: str, value: object, rule: str) -> None:
        self.key = f"{PROJECT}:{key}"
        self.rule = rule
        shown = str(value) if isinstance(value, Secret) else json.dumps(value)
        super().__init__("config " + messages.problem(self.key, shown, rule))


class MissingValueError(ConfigError):
    """A value the stack needs is not set (no stack file commits it); the message gives the
    command that sets it. An offline run plans with `placeholder` instead."""

    def __init__(self, key: str, condition: str, *, secret: bool, placeholder: str, example: str = "") -> None:
        self.secret, self.placeholder = secret, placeholder
        command = f"pulumi config set {'--secret ' if secret else ''}{key}{f' {example}' if example else ''}"
        super().__init__(key, None, f"is required {condition}: {command}")


class MissingSecretError(MissingValueError):
    """A secret the stack needs is not set."""

    def __init__(self, key: str, condition: str) -> None:
        super().__init__(key, condition, secret=True, placeholder=PLACEHOLDER.format(key=f"{PROJECT}:{key}"))


@dataclass(frozen=True)
class Secret:
    """A secret config value. It never prints; `reveal` hands it to `pulumi.Output.secret`."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "[secret]"

    __str__ = __repr__


@dataclass(frozen=True, kw_only=True)
class WindowsPool:
    name: str
    vm_size: str
    count: int
    os_sku: str
    max_pods: int
    min_count: int | None = None
    max_count: int | None = None

    @property
    def autoscaling(self) -> bool:
        return self.min_count is not None

    @property
    def windows_version(self) -> str:
        return WINDOWS_VERSION_FOR_OS_SKU[self.os_sku]


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    image_repository: str
    image_tag: str
    image_digest: str | None
    windows_version: str
    replicas: int
    await_rollout: bool = True

    @property
    def os_sku(self) -> str:
        return next(s for s, v in WINDOWS_VERSION_FOR_OS_SKU.items() if v == self.windows_version)


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    mode: str  # "in-cluster" or "external"
    connection_string: Secret | None


@dataclass(frozen=True, kw_only=True)
class Quotas:
    """The subscription's limits in the stack's region that a rollout must fit in."""

    regional_vcpus: int
    spot_vcpus: int  # Spot VMs draw on a pool of their own ("Total Regional Low-priority vCPUs")
    family_vcpus: int  # per VM family
    public_ips: int
    registries: int


@dataclass(frozen=True, kw_only=True)
class PromotionConfig:
    digest: str
    tag: str
    method: str  # "auto", "acr-import" or "oci-copy"


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    count: int  # per team; 0 builds no agents
    vm_size: str
    os_disk_size_gb: int
    spot: bool
    admin_username: str
    pool_name: str  # may hold "{team}"
    rdp_source_ranges: tuple[str, ...]
    auto_shutdown: bool
    daily_hours: int  # how long an agent runs a day when it shuts down automatically
    shutdown_time: str  # HHmm
    shutdown_time_zone: str
    docker_version: str
    package_version: str
    organization_url: str
    pat: Secret | None

    def pool_for(self, team: str) -> str:
        return naming.agent_pool_name(self.pool_name, team)


@dataclass(frozen=True, kw_only=True)
class RegistryPurgeConfig:
    """The scheduled purge of every team's registry (components.registry_purge)."""

    keep: int  # build-id tags kept, the newest
    schedule: str  # five-field cron, UTC
    prod: bool  # a prod stack's registries, allowed by registryPurgeProd


@dataclass(frozen=True)
class DevOpsConfig:
    """Each team's Azure DevOps side, when the stack manages it (azdoManage)."""

    manage: bool
    organization_url: str
    project: str  # may hold "{team}"; a name without it is an existing project (one team only)
    existing_project: bool
    app_source_url: str
    toolkit_source_url: str  # empty: the toolkit repository starts empty and is pushed by hand
    backend_url: str  # the release's `pulumi login`; empty: added to the variable group by hand
    admin_pat: Secret  # the provider's PAT: never the agents' (they can read theirs)

    def project_for(self, team: str) -> str:
        return naming.devops_project_name(self.project, team)


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    stack: str
    environment: str
    location: str
    name_prefix: str
    teams: tuple[str, ...]
    registry_sku: str
    kubernetes_version: str
    cluster_sku_tier: str
    cluster_support_plan: str
    # The weekly UTC window in which AKS applies patches and node images: a day, HH:MM, 4 hours.
    maintenance_day: str = "Sunday"
    maintenance_start: str = "08:00"
    system_pool_name: str
    system_pool_vm_size: str
    system_pool_count: int
    windows_pools: tuple[WindowsPool, ...]
    windows_admin_username: str
    network_policy: str
    vnet_cidr: str
    pod_cidr: str
    service_cidr: str
    app: AppConfig
    database: DatabaseConfig
    agents: AgentConfig
    quotas: Quotas
    session_hours: int
    # When the stack's session is over (UTC); None never expires. Teardown reads it.
    expires_at: datetime | None = None
    # False protects the stack from the teardown workflow (prod).
    teardown_allowed: bool = True
    # Registries and the cluster refuse deletion (Pulumi's protect) until unprotected.
    protect_resources: bool = False
    # The stack this one promotes images from (prod from dev), read by a StackReference.
    promote_from_stack: str | None = None
    promotion: PromotionConfig | None = None
    devops: DevOpsConfig | None = None  # None: the stack leaves Azure DevOps alone
    registry_purge: RegistryPurgeConfig | None = None  # None: the registries are never purged

    def expiry_warning(self, now: datetime) -> str | None:
        """Raises ConfigError when expiresAt has passed: the scheduled teardown would destroy what
        `pulumi up` builds within the hour. Returns a warning when it falls within the next
        sessionHours. `pulumi up`, preview and the offline plan all ask, before anything is
        registered; teardown never does (`pulumi destroy` does not run the program)."""
        if self.expires_at is None:
            return None
        end = f"{self.expires_at:%Y-%m-%dT%H:%M:%SZ}"
        if self.expires_at <= now:
            raise ConfigError(
                "expiresAt",
                end,
                f"has passed (it is {now:%Y-%m-%dT%H:%M:%SZ}): the scheduled teardown would destroy the stack"
                " within the hour; set the end of the coming session, or tear the stack down",
            )
        hours = (self.expires_at - now).total_seconds() / 3600
        if hours < self.session_hours:
            return (
                f"config {PROJECT}:expiresAt {end} is {hours:.1f} h away, within a session of"
                f" {self.session_hours} h (sessionHours): the scheduled teardown destroys the stack then"
            )
        return None

    def tags(self, team: str = "shared") -> dict[str, str]:
        """Tags of every taggable resource: a team's own, or "shared" ones of the stack."""
        expiry = self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.expires_at else "never"
        return {
            "environment": self.environment,
            "stack": self.stack,
            "team": team,
            "expires-at": expiry,
            "managed-by": "pulumi",
        }
