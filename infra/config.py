"""The stack's configuration, parsed and checked once.

`parse` is pure: it takes the raw strings the Pulumi engine hands the program (objects and
lists JSON-encoded, as `pulumi config` stores them) and returns a frozen `StackConfig`, or
raises `ConfigError` whose one-line message names the key, the value and the rule. Nothing
else in the project reads Pulumi config; `load` is the one place that asks the engine.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pulumi

from components.naming import LINUX_POOL_NAME, SEMVER, WINDOWS_POOL_NAME, WINDOWS_VERSION_FOR_OS_SKU
from infra import messages, stack_files

PROJECT = "musicstore"

VM_SIZE = re.compile(r"^Standard_[A-Z][A-Za-z0-9_]*$")
K8S_VERSION = re.compile(r"^1\.(\d{2})(\.\d{1,2})?$")
REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
WINDOWS_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$")
REGION = re.compile(r"^[a-z][a-z0-9]{2,29}$")

# Names AKS refuses for the Windows administrator (azure-facts.md).
FORBIDDEN_WINDOWS_USERS = frozenset(
    {
        "admin",
        "administrator",
        "user",
        "user1",
        "user2",
        "user3",
        "user4",
        "user5",
        "test",
        "test1",
        "test2",
        "test3",
        "root",
        "guest",
        "owner",
        "server",
        "sql",
        "support",
        "sys",
        "backup",
        "console",
        "aspnet",
        "adm",
        "actuser",
        "a",
        "1",
        "123",
        "david",
        "john",
    }
)
WINDOWS_POOL_KEYS = frozenset({"vmSize", "count", "minCount", "maxCount", "osSku", "maxPods"})
MAX_TEAMS = 30


class ConfigError(pulumi.RunError):
    """A config value breaks a rule. Its message is one line: key, value and rule.

    A RunError ends `pulumi up` with the message alone, without a traceback."""

    def __init__(self, key: str, value: object, rule: str) -> None:
        self.key = f"{PROJECT}:{key}"
        self.rule = rule
        shown = str(value) if isinstance(value, Secret) else json.dumps(value)
        super().__init__("config " + messages.problem(self.key, shown, rule))


class MissingSecretError(ConfigError):
    """A secret the stack needs is not set; the message gives the command that sets it."""

    def __init__(self, key: str, condition: str) -> None:
        super().__init__(key, None, f"is required {condition}: pulumi config set --secret {key}")


@dataclass(frozen=True)
class Secret:
    """A secret config value. It never prints; `reveal` hands it to `pulumi.Output.secret`."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "[secret]"

    __str__ = __repr__


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class DatabaseConfig:
    mode: str  # "in-cluster" or "external"
    connection_string: Secret | None


@dataclass(frozen=True)
class Quotas:
    """The subscription's limits in the stack's region that a rollout must fit in."""

    regional_vcpus: int
    family_vcpus: int  # per VM family
    public_ips: int
    registries: int


@dataclass(frozen=True)
class PromotionConfig:
    digest: str
    tag: str
    method: str  # "auto", "acr-import" or "oci-copy"


@dataclass(frozen=True)
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
        return self.pool_name.replace("{team}", team)


@dataclass(frozen=True)
class StackConfig:
    stack: str
    environment: str
    location: str
    name_prefix: str
    teams: tuple[str, ...]
    registry_sku: str
    kubernetes_version: str
    cluster_sku_tier: str
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


KNOWN_KEYS = frozenset(
    {
        "environment",
        "location",
        "namePrefix",
        "teams",
        "registrySku",
        "kubernetesVersion",
        "clusterSkuTier",
        "systemPoolName",
        "systemPoolVmSize",
        "systemPoolCount",
        "windowsPools",
        "windowsAdminUsername",
        "networkPolicy",
        "vnetCidr",
        "podCidr",
        "serviceCidr",
        "appImageRepository",
        "appImageTag",
        "appImageDigest",
        "appWindowsVersion",
        "appReplicas",
        "appAwaitRollout",
        "databaseMode",
        "databaseConnectionString",
        "promoteFromStack",
        "promoteDigest",
        "promoteTag",
        "promotionMethod",
        "expiresAt",
        "teardownAllowed",
        "protectResources",
        "teamCount",
        "teamPrefix",
        "sessionHours",
        "agentDailyHours",
        "quotaRegionalVcpus",
        "quotaFamilyVcpus",
        "quotaPublicIps",
        "quotaRegistries",
        "agentCount",
        "agentVmSize",
        "agentOsDiskSizeGb",
        "agentSpot",
        "agentAdminUsername",
        "agentPoolName",
        "agentRdpSourceRanges",
        "agentAutoShutdown",
        "agentShutdownTime",
        "agentShutdownTimeZone",
        "agentDockerVersion",
        "agentPackageVersion",
        "azdoOrganizationUrl",
        "azdoPat",
    }
)
SECRET_KEYS = frozenset({"databaseConnectionString", "azdoPat"})

T = TypeVar("T")


class _Reader:
    """Typed access to the raw strings, each failure a ConfigError for that key."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def raw(self, key: str) -> str:
        if key not in self.values:
            raise ConfigError(key, None, "is required (Pulumi.yaml declares its default)")
        return self.values[key]

    def string(self, key: str, pattern: re.Pattern[str], rule: str) -> str:
        value = self.raw(key)
        if not pattern.fullmatch(value):
            raise ConfigError(key, value, rule)
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.raw(key)
        if value not in choices:
            raise ConfigError(key, value, f"must be one of {', '.join(choices)}")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        return _integer(key, self.raw(key), low, high)

    def json(self, key: str, kind: type[T], what: str) -> T:
        text = self.raw(key)
        try:
            value = json.loads(text)
        except ValueError:
            raise ConfigError(key, text, f"must be {what}") from None
        if not isinstance(value, kind):
            raise ConfigError(key, value, f"must be {what}")
        return value


def _integer(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(key, value, f"must be a whole number from {low} to {high}")
    return value


def _network(key: str, text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise ConfigError(key, text, "must be an IPv4 network in CIDR form, host bits zero") from None
    if not isinstance(net, ipaddress.IPv4Network) or not net.is_private:
        raise ConfigError(key, text, "must be a private IPv4 range (RFC 1918)")
    return net


def parse(values: Mapping[str, str], *, stack: str, secret_keys: frozenset[str] = frozenset()) -> StackConfig:
    """Check every rule and build the StackConfig. `values` are keyed without the project
    namespace; `secret_keys` names the keys that were set with `--secret`."""
    for key in sorted(values):
        if key not in KNOWN_KEYS:
            raise ConfigError(key, values[key], "is not a key this project knows (see Pulumi.yaml)")
    for key in sorted(SECRET_KEYS & values.keys()):
        if key not in secret_keys:
            raise ConfigError(key, Secret(values[key]), "must be set as a secret: pulumi config set --secret")
    read = _Reader(values)

    name_rule = "must be {} lowercase letters and digits, starting with a letter"
    environment = read.string("environment", re.compile(r"^[a-z][a-z0-9]{1,7}$"), name_rule.format("2-8"))
    prefix = read.string("namePrefix", re.compile(r"^[a-z][a-z0-9]{1,7}$"), name_rule.format("2-8"))
    location = read.string("location", REGION, "must be an Azure region name such as westeurope")
    teams = _teams(read.json("teams", list, "a JSON list of team names"), read)

    kubernetes_version = read.string(
        "kubernetesVersion", K8S_VERSION, "must be a Kubernetes version 1.MINOR or 1.MINOR.PATCH"
    )
    minor = int(kubernetes_version.split(".")[1])
    windows_pools = _windows_pools(read.json("windowsPools", dict, "an object of Windows pools keyed by name"), minor)

    vnet = _network("vnetCidr", read.raw("vnetCidr"))
    if not 8 <= vnet.prefixlen <= 24:
        raise ConfigError("vnetCidr", str(vnet), "must be a /8 to /24 network (subnets take a quarter each)")
    pods = _network("podCidr", read.raw("podCidr"))
    if pods.overlaps(vnet):
        raise ConfigError("podCidr", str(pods), f"must not overlap vnetCidr {vnet}")
    services = _network("serviceCidr", read.raw("serviceCidr"))
    for other_key, other in (("vnetCidr", vnet), ("podCidr", pods)):
        if services.overlaps(other):
            raise ConfigError("serviceCidr", str(services), f"must not overlap {other_key} {other}")
    if services.prefixlen > 24:
        raise ConfigError("serviceCidr", str(services), "must be /24 or larger")

    network_policy = read.raw("networkPolicy")
    if network_policy not in ("calico", "none"):
        raise ConfigError(
            "networkPolicy", network_policy, "must be calico or none (Azure NPM is unsupported on Windows nodes)"
        )

    username = _windows_user(read, "windowsAdminUsername")

    app = _app(read, windows_pools)
    database = _database(read)
    agents = _agents(read, len(teams))
    promote_from = _promote_from(read, stack)

    return StackConfig(
        stack=stack,
        environment=environment,
        location=location,
        name_prefix=prefix,
        teams=teams,
        registry_sku=read.choice("registrySku", ("Basic", "Standard", "Premium")),
        kubernetes_version=kubernetes_version,
        cluster_sku_tier=read.choice("clusterSkuTier", ("Free", "Standard", "Premium")),
        system_pool_name=read.string(
            "systemPoolName",
            LINUX_POOL_NAME,
            "Linux pool names are 1-12 lowercase letters and digits, starting with a letter",
        ),
        system_pool_vm_size=read.string(
            "systemPoolVmSize", VM_SIZE, "must be an Azure VM size such as Standard_D2s_v3"
        ),
        system_pool_count=read.integer("systemPoolCount", 1, 100),
        windows_pools=windows_pools,
        windows_admin_username=username,
        network_policy=network_policy,
        vnet_cidr=str(vnet),
        pod_cidr=str(pods),
        service_cidr=str(services),
        app=app,
        database=database,
        agents=agents,
        quotas=Quotas(
            regional_vcpus=read.integer("quotaRegionalVcpus", 1, 100_000),
            family_vcpus=read.integer("quotaFamilyVcpus", 1, 100_000),
            public_ips=read.integer("quotaPublicIps", 1, 100_000),
            registries=read.integer("quotaRegistries", 1, 100_000),
        ),
        session_hours=read.integer("sessionHours", 1, 72),
        expires_at=_expiry(read),
        teardown_allowed=_boolean(read, "teardownAllowed"),
        protect_resources=_boolean(read, "protectResources"),
        promote_from_stack=promote_from,
        promotion=_promotion(read, promote_from, app),
    )


def _windows_user(read: _Reader, key: str) -> str:
    username = read.raw(key)
    if not WINDOWS_USER.fullmatch(username) or username.endswith("."):
        raise ConfigError(key, username, "must be 1-20 letters, digits, '.', '-' or '_', not ending in '.'")
    if username.lower() in FORBIDDEN_WINDOWS_USERS:
        raise ConfigError(key, username, "is a name Azure forbids for a Windows administrator")
    return username


def _teams(names: list[Any], read: _Reader) -> tuple[str, ...]:
    count = read.integer("teamCount", 0, MAX_TEAMS)
    if count:
        if names != ["team1"]:
            raise ConfigError("teamCount", count, "set teams or teamCount, not both")
        prefix = read.string(
            "teamPrefix",
            re.compile(r"^[a-z][a-z0-9]{0,9}$"),
            "must be 1-10 lowercase letters and digits, starting with a letter",
        )
        return tuple(f"{prefix}{n:02d}" for n in range(1, count + 1))
    if not 1 <= len(names) <= MAX_TEAMS:
        raise ConfigError("teams", names, f"must list 1 to {MAX_TEAMS} teams")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not re.fullmatch(r"^[a-z][a-z0-9]{0,11}$", name):
            raise ConfigError(
                f"teams[{i}]", name, "team names are 1-12 lowercase letters and digits, starting with a letter"
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError("teams", names, f"team names must be unique ({', '.join(duplicates)} repeats)")
    return tuple(names)


def _windows_pools(pools: dict[str, Any], k8s_minor: int) -> tuple[WindowsPool, ...]:
    if not pools:
        raise ConfigError("windowsPools", pools, "must define at least one Windows pool")
    parsed = []
    for name, spec in pools.items():
        key = f"windowsPools.{name}"
        if not WINDOWS_POOL_NAME.fullmatch(name):
            raise ConfigError(
                key, name, "Windows pool names are 1-6 lowercase letters and digits, starting with a letter"
            )
        if not isinstance(spec, dict):
            raise ConfigError(
                key, spec, "must be an object with vmSize, count, osSku and optional minCount, maxCount, maxPods"
            )
        unknown = sorted(spec.keys() - WINDOWS_POOL_KEYS)
        if unknown:
            raise ConfigError(
                f"{key}.{unknown[0]}",
                spec[unknown[0]],
                f"is not a pool setting ({', '.join(sorted(WINDOWS_POOL_KEYS))})",
            )
        vm_size = spec.get("vmSize", "Standard_D4s_v3")
        if not isinstance(vm_size, str) or not VM_SIZE.fullmatch(vm_size):
            raise ConfigError(f"{key}.vmSize", vm_size, "must be an Azure VM size such as Standard_D4s_v3")
        os_sku = spec.get("osSku", "Windows2022")
        _check_os_sku(f"{key}.osSku", os_sku, k8s_minor)
        count = _integer(f"{key}.count", spec.get("count", 1), 0, 100)
        min_count = max_count = None
        if "minCount" in spec or "maxCount" in spec:
            min_count = _integer(f"{key}.minCount", spec.get("minCount"), 0, 100)
            max_count = _integer(f"{key}.maxCount", spec.get("maxCount"), 1, 100)
            if min_count > max_count:
                raise ConfigError(f"{key}.minCount", min_count, f"must not exceed maxCount {max_count}")
            if not min_count <= count <= max_count:
                raise ConfigError(
                    f"{key}.count", count, f"must lie between minCount {min_count} and maxCount {max_count}"
                )
        max_pods = _integer(f"{key}.maxPods", spec.get("maxPods", 30), 10, 110)
        parsed.append(WindowsPool(name, vm_size, count, os_sku, max_pods, min_count, max_count))
    return tuple(parsed)


def _check_os_sku(key: str, os_sku: Any, k8s_minor: int) -> None:
    if os_sku == "Windows2019":
        raise ConfigError(key, os_sku, "Windows2019 was retired on 2026-03-01; use Windows2022 or Windows2025")
    if os_sku not in WINDOWS_VERSION_FOR_OS_SKU:
        raise ConfigError(key, os_sku, "must be Windows2022 or Windows2025")
    if os_sku == "Windows2022" and k8s_minor >= 37:
        raise ConfigError(key, os_sku, f"Windows2022 is not supported on Kubernetes 1.{k8s_minor} (1.37 and later)")
    if os_sku == "Windows2025" and k8s_minor < 32:
        raise ConfigError(key, os_sku, f"Windows2025 needs Kubernetes 1.32 or later, not 1.{k8s_minor}")


def _app(read: _Reader, pools: tuple[WindowsPool, ...]) -> AppConfig:
    windows_version = read.choice("appWindowsVersion", tuple(WINDOWS_VERSION_FOR_OS_SKU.values()))
    if not any(p.windows_version == windows_version for p in pools):
        skus = ", ".join(f"{p.name}={p.os_sku}" for p in pools)
        raise ConfigError(
            "appWindowsVersion", windows_version, f"needs a Windows pool of the matching OS SKU (pools: {skus})"
        )
    digest = read.raw("appImageDigest") or None
    if digest is not None and not DIGEST.fullmatch(digest):
        raise ConfigError("appImageDigest", digest, "must be empty or sha256: followed by 64 lowercase hex digits")
    return AppConfig(
        image_repository=read.string(
            "appImageRepository", REPOSITORY, "must be a registry repository name such as mvcmusicstore"
        ),
        image_tag=read.string("appImageTag", TAG, "must be an image tag: letters, digits, '_', '.', '-', at most 128"),
        image_digest=digest,
        windows_version=windows_version,
        replicas=read.integer("appReplicas", 1, 20),
        await_rollout=_boolean(read, "appAwaitRollout"),
    )


AZDO_URL = re.compile(
    r"^https://(dev\.azure\.com/[A-Za-z0-9][A-Za-z0-9-]{0,49}|[a-z0-9][a-z0-9-]{0,49}\.visualstudio\.com)/?$"
)
VERSION = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,4}$")
HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")
POOL_NAME = re.compile(r"^[A-Za-z0-9._{}-][A-Za-z0-9 ._{}-]{0,63}$")
# Sources that would open remote desktop to the whole Internet.
OPEN_SOURCES = frozenset({"*", "any", "internet", "0.0.0.0/0", "0.0.0.0"})


def _agents(read: _Reader, team_count: int) -> AgentConfig:
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
        vm_size=read.string("agentVmSize", VM_SIZE, "must be an Azure VM size such as Standard_D4s_v3"),
        os_disk_size_gb=read.integer("agentOsDiskSizeGb", 128, 2048),
        spot=_boolean(read, "agentSpot"),
        admin_username=_windows_user(read, "agentAdminUsername"),
        pool_name=pool,
        rdp_source_ranges=_rdp_sources(read.json("agentRdpSourceRanges", list, "a JSON list of IPv4 CIDR ranges")),
        auto_shutdown=_boolean(read, "agentAutoShutdown"),
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


def _expiry(read: _Reader) -> datetime | None:
    text = read.raw("expiresAt")
    if not text:
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ConfigError("expiresAt", text, "must be a UTC time such as 2026-11-22T18:00:00Z, or empty") from None
    return moment.replace(tzinfo=UTC)


def _boolean(read: _Reader, key: str) -> bool:
    value = read.raw(key)
    if value not in ("true", "false"):
        raise ConfigError(key, value, "must be true or false")
    return value == "true"


def _rdp_sources(ranges: list[Any]) -> tuple[str, ...]:
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


def _promote_from(read: _Reader, stack: str) -> str | None:
    source = read.raw("promoteFromStack")
    if not source:
        return None
    if not re.fullmatch(r"^([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$", source):
        raise ConfigError("promoteFromStack", source, "must be a stack name, or organization/project/stack")
    if source.split("/")[-1] == stack:
        raise ConfigError("promoteFromStack", source, "must name another stack, not this one")
    return source


def _promotion(read: _Reader, source: str | None, app: AppConfig) -> PromotionConfig | None:
    method = read.choice("promotionMethod", ("auto", "acr-import", "oci-copy"))
    digest = read.raw("promoteDigest")
    if not digest:
        return None
    if not DIGEST.fullmatch(digest):
        raise ConfigError("promoteDigest", digest, "must be sha256: followed by 64 lowercase hex digits")
    if source is None:
        raise ConfigError("promoteDigest", digest, "needs promoteFromStack, the stack to promote from")
    tag = read.raw("promoteTag")
    if not SEMVER.fullmatch(tag):
        raise ConfigError("promoteTag", tag, "must be the semantic version the image is promoted as, such as 1.2.0")
    if app.image_digest and app.image_digest != digest:
        raise ConfigError("appImageDigest", app.image_digest, "must be empty when promoteDigest decides the image")
    return PromotionConfig(digest=digest, tag=tag, method=method)


def _database(read: _Reader) -> DatabaseConfig:
    mode = read.choice("databaseMode", ("in-cluster", "external"))
    secret = read.values.get("databaseConnectionString") or None
    if mode == "external" and not secret:
        raise MissingSecretError("databaseConnectionString", "when databaseMode is external")
    return DatabaseConfig(mode=mode, connection_string=Secret(secret) if secret else None)


def load(stack: str | None = None) -> StackConfig:
    """Read this project's config from the running Pulumi engine and parse it."""
    return parse_namespaced(_engine_config(), stack=stack or pulumi.get_stack(), is_secret=_is_engine_secret)


def load_stack(
    stack: str,
    root: Path = stack_files.ROOT,
    *,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
) -> StackConfig:
    """Parse Pulumi.yaml and Pulumi.<stack>.yaml (and any overrides) without the engine."""
    return from_files(offline_files(stack, root, overrides=overrides, secret_overrides=secret_overrides), stack)


def offline_files(
    stack: str,
    root: Path = stack_files.ROOT,
    *,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
) -> stack_files.StackFiles:
    """The stack files as an offline run reads them: every required secret that is not set
    (no stack file commits one) becomes a marked placeholder, listed in `placeholders`."""
    files = stack_files.load(stack, root, overrides=overrides, secret_overrides=secret_overrides)
    filled: set[str] = set()
    while True:
        try:
            from_files(files, stack)
        except MissingSecretError as missing:
            if missing.key in filled:
                raise
            filled.add(missing.key)
            files = replace(
                files,
                values={**files.values, missing.key: stack_files.PLACEHOLDER.format(key=missing.key)},
                secret_keys=files.secret_keys | {missing.key},
                placeholders=frozenset(filled),
            )
        except ConfigError:
            return files  # the parse that follows reports it
        else:
            return files


def from_files(files: stack_files.StackFiles, stack: str) -> StackConfig:
    return parse_namespaced(files.values, stack=stack, is_secret=files.secret_keys.__contains__)


def parse_namespaced(config: Mapping[str, str], *, stack: str, is_secret: Callable[[str], bool]) -> StackConfig:
    prefix = f"{PROJECT}:"
    values = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    secrets = frozenset(k for k in values if is_secret(prefix + k))
    return parse(values, stack=stack, secret_keys=secrets)


def _engine_config() -> dict[str, str]:
    # The SDK offers no public call that lists every key, and unknown keys must be caught,
    # so read the map the language host filled (falling back to PULUMI_CONFIG).
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}


def _is_engine_secret(key: str) -> bool:
    from pulumi.runtime import config as runtime_config

    return runtime_config.is_config_secret(key) or key in runtime_config.get_config_secret_keys_env()
