"""Reading the configuration's sections: each reader takes the raw strings, checks one rule at a
time, and raises `ConfigError` naming the key, the value and the rule. The build agents' and
Azure DevOps' sections are read in `infra.devops_sections`, with the `Reader` defined here."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from components.naming import SEMVER, WINDOWS_POOL_NAME
from components.windows import WINDOWS_VERSION_FOR_OS_SKU
from infra.dated_facts import DEFAULT_WINDOWS_VM_SIZE
from infra.stack_config import (
    AppConfig,
    ConfigError,
    DatabaseConfig,
    MissingSecretError,
    MissingValueError,
    PromotionConfig,
    Secret,
    WindowsPool,
)

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


T = TypeVar("T")


class Reader:
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
        return integer(key, self.raw(key), low, high)

    def json(self, key: str, kind: type[T], what: str) -> T:
        text = self.raw(key)
        try:
            value = json.loads(text)
        except ValueError:
            raise ConfigError(key, text, f"must be {what}") from None
        if not isinstance(value, kind):
            raise ConfigError(key, value, f"must be {what}")
        return value


def integer(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(key, value, f"must be a whole number from {low} to {high}")
    return value


def network(key: str, text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise ConfigError(key, text, "must be an IPv4 network in CIDR form, host bits zero") from None
    if not isinstance(net, ipaddress.IPv4Network) or not net.is_private:
        raise ConfigError(key, text, "must be a private IPv4 range (RFC 1918)")
    return net


def read_windows_user(read: Reader, key: str) -> str:
    username = read.raw(key)
    if not WINDOWS_USER.fullmatch(username) or username.endswith("."):
        raise ConfigError(key, username, "must be 1-20 letters, digits, '.', '-' or '_', not ending in '.'")
    if username.lower() in FORBIDDEN_WINDOWS_USERS:
        raise ConfigError(key, username, "is a name Azure forbids for a Windows administrator")
    return username


def read_teams(names: list[Any], read: Reader) -> tuple[str, ...]:
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


def read_windows_pools(pools: dict[str, Any], k8s_minor: int) -> tuple[WindowsPool, ...]:
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
        vm_size = spec.get("vmSize", DEFAULT_WINDOWS_VM_SIZE)
        if not isinstance(vm_size, str) or not VM_SIZE.fullmatch(vm_size):
            raise ConfigError(f"{key}.vmSize", vm_size, "must be an Azure VM size such as Standard_D4s_v5")
        os_sku = spec.get("osSku", "Windows2022")
        check_os_sku(f"{key}.osSku", os_sku, k8s_minor)
        count = integer(f"{key}.count", spec.get("count", 1), 0, 100)
        min_count = max_count = None
        if "minCount" in spec or "maxCount" in spec:
            min_count = integer(f"{key}.minCount", spec.get("minCount"), 0, 100)
            max_count = integer(f"{key}.maxCount", spec.get("maxCount"), 1, 100)
            if min_count > max_count:
                raise ConfigError(f"{key}.minCount", min_count, f"must not exceed maxCount {max_count}")
            if not min_count <= count <= max_count:
                raise ConfigError(
                    f"{key}.count", count, f"must lie between minCount {min_count} and maxCount {max_count}"
                )
        max_pods = integer(f"{key}.maxPods", spec.get("maxPods", 30), 10, 110)
        parsed.append(
            WindowsPool(
                name=name,
                vm_size=vm_size,
                count=count,
                os_sku=os_sku,
                max_pods=max_pods,
                min_count=min_count,
                max_count=max_count,
            )
        )
    return tuple(parsed)


def check_os_sku(key: str, os_sku: Any, k8s_minor: int) -> None:
    if os_sku == "Windows2019":
        raise ConfigError(key, os_sku, "Windows2019 was retired on 2026-03-01; use Windows2022 or Windows2025")
    if os_sku not in WINDOWS_VERSION_FOR_OS_SKU:
        raise ConfigError(key, os_sku, "must be Windows2022 or Windows2025")
    if os_sku == "Windows2022" and k8s_minor >= 37:
        raise ConfigError(key, os_sku, f"Windows2022 is not supported on Kubernetes 1.{k8s_minor} (1.37 and later)")
    if os_sku == "Windows2025" and k8s_minor < 32:
        raise ConfigError(key, os_sku, f"Windows2025 needs Kubernetes 1.32 or later, not 1.{k8s_minor}")


def read_app(read: Reader, pools: tuple[WindowsPool, ...]) -> AppConfig:
    windows_version = read.choice("appWindowsVersion", tuple(WINDOWS_VERSION_FOR_OS_SKU.values()))
    if not any(p.windows_version == windows_version for p in pools):
        skus = ", ".join(f"{p.name}={p.os_sku}" for p in pools)
        raise ConfigError(
            "appWindowsVersion",
            windows_version,
            f"needs a Windows pool of the matching OS SKU, as Windows containers on AKS run with process"
            f" isolation (pools: {skus})",
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
        await_rollout=boolean(read, "appAwaitRollout"),
    )


EXPIRY = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


def read_expiry(read: Reader) -> datetime | None:
    text = read.raw("expiresAt")
    if not text:
        return None
    rule = (
        "must be an ISO 8601 date and time with its time zone, such as 2026-11-22T18:00:00Z or"
        " 2026-11-22T19:00:00+01:00, or empty"
    )
    # RFC 3339's date-time (T or t, Z or z, or an offset); fromisoformat alone would also take
    # week dates, basic formats and zone-less times.
    if not EXPIRY.fullmatch(text):
        raise ConfigError("expiresAt", text, rule)
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise ConfigError("expiresAt", text, rule) from None
    return moment.astimezone(UTC)


def boolean(read: Reader, key: str) -> bool:
    value = read.raw(key)
    if value not in ("true", "false"):
        raise ConfigError(key, value, "must be true or false")
    return value == "true"


def read_promote_from(read: Reader, stack: str) -> str | None:
    source = read.raw("promoteFromStack")
    if not source:
        return None
    if not re.fullmatch(r"^([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$", source):
        raise ConfigError("promoteFromStack", source, "must be a stack name, or organization/project/stack")
    if source.split("/")[-1] == stack:
        raise ConfigError("promoteFromStack", source, "must name another stack, not this one")
    return source


# What an offline plan promotes when no digest is set: a marked value, listed as needed.
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


def read_promotion(read: Reader, source: str | None, app: AppConfig) -> PromotionConfig | None:
    method = read.choice("promotionMethod", ("auto", "acr-import", "oci-copy"))
    digest = read.raw("promoteDigest")
    if not digest and source is not None:
        raise MissingValueError(
            "promoteDigest",
            "when promoteFromStack is set: the release pipeline sets the digest it built and tested",
            secret=False,
            placeholder=PLACEHOLDER_DIGEST,
            example="sha256:...",
        )
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


def read_database(read: Reader) -> DatabaseConfig:
    mode = read.choice("databaseMode", ("in-cluster", "external"))
    secret = read.values.get("databaseConnectionString") or None
    if mode == "external" and not secret:
        raise MissingSecretError("databaseConnectionString", "when databaseMode is external")
    return DatabaseConfig(mode=mode, connection_string=Secret(secret) if secret else None)
