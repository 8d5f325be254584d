"""The stack's configuration, parsed and checked once.

`parse` is pure: it takes the raw strings the Pulumi engine hands the program (objects and
lists JSON-encoded, as `pulumi config` stores them) and returns a frozen `StackConfig`, or
raises `ConfigError` whose one-line message names the key, the value and the rule. Nothing
else in the project reads Pulumi config; `load` is the one place that asks the engine.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pulumi

from components.naming import LINUX_POOL_NAME
from components.windows import WINDOWS_VERSION_FOR_OS_SKU
from infra import dated_facts, stack_files
from infra.config_purge import read_registry_purge
from infra.config_sections import (
    K8S_VERSION,
    REGION,
    VM_SIZE,
    Reader,
    boolean,
    network,
    read_app,
    read_database,
    read_expiry,
    read_promote_from,
    read_promotion,
    read_teams,
    read_windows_pools,
    read_windows_user,
)
from infra.devops_sections import read_agents, read_devops
from infra.stack_config import PROJECT, ConfigError, MissingValueError, Quotas, Secret, StackConfig

KNOWN_KEYS = frozenset(
    {
        "environment",
        "location",
        "namePrefix",
        "teams",
        "registrySku",
        "kubernetesVersion",
        "clusterSkuTier",
        "clusterSupportPlan",
        "maintenanceWindow",
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
        "quotaSpotVcpus",
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
        "azdoAdminPat",
        "azdoManage",
        "azdoProject",
        "appSourceUrl",
        "toolkitSourceUrl",
        "pulumiBackendUrl",
        "registryPurge",
        "registryPurgeProd",
        "registryPurgeKeep",
        "registryPurgeSchedule",
    }
)


SECRET_KEYS = frozenset({"databaseConnectionString", "azdoPat", "azdoAdminPat"})


def parse(
    values: Mapping[str, str], *, stack: str, secret_keys: frozenset[str] = frozenset(), deploying: bool = True
) -> StackConfig:
    """Check every rule and build the StackConfig. `values` are keyed without the project
    namespace; `secret_keys` names the keys that were set with `--secret`. `deploying` False
    (teardown) skips the dated tables of regions and AKS minors: a venue made under older tables
    must still be read to be destroyed."""
    for key in sorted(values):
        if key not in KNOWN_KEYS:
            raise ConfigError(key, values[key], "is not a key this project knows (see Pulumi.yaml)")
    for key in sorted(SECRET_KEYS & values.keys()):
        if key not in secret_keys:
            raise ConfigError(key, Secret(values[key]), "must be set as a secret: pulumi config set --secret")
    read = Reader(values)

    name_rule = "must be {} lowercase letters and digits, starting with a letter"
    environment = read.string("environment", re.compile(r"^[a-z][a-z0-9]{1,7}$"), name_rule.format("2-8"))
    prefix = read.string("namePrefix", re.compile(r"^[a-z][a-z0-9]{1,7}$"), name_rule.format("2-8"))
    location = read.string("location", REGION, "must be an Azure region name such as westeurope")
    if deploying and location not in dated_facts.REGIONS:
        near = difflib.get_close_matches(location, sorted(dated_facts.REGIONS), n=1)
        raise ConfigError(
            "location",
            location,
            f"is not an Azure region of the table of {dated_facts.REGIONS_READ_ON}"
            + (f"; did you mean {near[0]}?" if near else "")
            + f" ({dated_facts.REGIONS_SOURCE})",
        )
    teams = read_teams(read.json("teams", list, "a JSON list of team names"), read)

    kubernetes_version = read.string(
        "kubernetesVersion", K8S_VERSION, "must be a Kubernetes version 1.MINOR or 1.MINOR.PATCH"
    )
    minor = int(kubernetes_version.split(".")[1])
    if deploying and minor not in dated_facts.AKS_MINORS:
        known = sorted(dated_facts.AKS_MINORS)
        raise ConfigError(
            "kubernetesVersion",
            kubernetes_version,
            f"must be an AKS minor of the table read {dated_facts.READ_ON}, 1.{known[0]} to 1.{known[-1]}"
            " (infra/dated_facts.py, where a newer or LTS minor is added with its dates)",
        )
    windows_pools = read_windows_pools(
        read.json("windowsPools", dict, "an object of Windows pools keyed by name"), minor
    )

    vnet = network("vnetCidr", read.raw("vnetCidr"))
    if not 8 <= vnet.prefixlen <= 24:
        raise ConfigError("vnetCidr", str(vnet), "must be a /8 to /24 network (subnets take a quarter each)")
    pods = network("podCidr", read.raw("podCidr"))
    if pods.overlaps(vnet):
        raise ConfigError("podCidr", str(pods), f"must not overlap vnetCidr {vnet}")
    services = network("serviceCidr", read.raw("serviceCidr"))
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

    username = read_windows_user(read, "windowsAdminUsername")

    app = read_app(read, windows_pools)
    database = read_database(read)
    agents = read_agents(read, len(teams))
    promote_from = read_promote_from(read, stack)
    devops = read_devops(read, teams, agents)
    purge = read_registry_purge(read, environment=environment, promotes=promote_from is not None, app=app)

    return StackConfig(
        stack=stack,
        environment=environment,
        location=location,
        name_prefix=prefix,
        teams=teams,
        registry_sku=read.choice("registrySku", ("Basic", "Standard", "Premium")),
        kubernetes_version=kubernetes_version,
        cluster_sku_tier=_sku_tier(read),
        cluster_support_plan=read.choice("clusterSupportPlan", ("KubernetesOfficial", "AKSLongTermSupport")),
        **_maintenance_window(read),
        system_pool_name=read.string(
            "systemPoolName",
            LINUX_POOL_NAME,
            "Linux pool names are 1-12 lowercase letters and digits, starting with a letter",
        ),
        system_pool_vm_size=read.string(
            "systemPoolVmSize", VM_SIZE, "must be an Azure VM size such as Standard_D2s_v5"
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
            spot_vcpus=read.integer("quotaSpotVcpus", 1, 100_000),
            family_vcpus=read.integer("quotaFamilyVcpus", 1, 100_000),
            public_ips=read.integer("quotaPublicIps", 1, 100_000),
            registries=read.integer("quotaRegistries", 1, 100_000),
        ),
        session_hours=read.integer("sessionHours", 1, 72),
        expires_at=read_expiry(read),
        teardown_allowed=boolean(read, "teardownAllowed"),
        protect_resources=boolean(read, "protectResources"),
        promote_from_stack=promote_from,
        promotion=read_promotion(read, promote_from, app),
        devops=devops,
        registry_purge=purge,
    )


def load(stack: str | None = None) -> StackConfig:
    """Read this project's config from the running Pulumi engine and parse it. The stack file
    beside the program is read too, for what the engine cannot tell: a value YAML changed."""
    stack = stack or pulumi.get_stack()
    # The language host runs the program in the project's folder (pulumi-language-python).
    root = Path.cwd()
    if (root / f"Pulumi.{stack}.yaml").is_file():
        refuse_retyped(stack_files.load(stack, root).retyped, stack)
    cfg = parse_namespaced(_engine_config(), stack=stack, is_secret=_is_engine_secret)
    refuse_unrunnable_image(cfg, stack_files.image_release(root))
    return cfg


def refuse_retyped(retyped: tuple[stack_files.Retyped, ...], stack: str) -> None:
    """A value declared text that YAML turned into a number, boolean or timestamp: the program
    would get the CLI's rendering of it (1.30 becomes 1.3), so the file must quote it."""
    for found in retyped:
        article = "an" if found.kind[0] in "aeiou" else "a"
        raise ConfigError(
            found.key.split(":", 1)[1],
            found.text,
            f"YAML reads it unquoted as {article} {found.kind}, which `pulumi up` passes on as {found.value!r}:"
            f" quote it in Pulumi.{stack}.yaml",
        )


def load_stack(
    stack: str,
    root: Path = stack_files.ROOT,
    *,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    deploying: bool = True,
) -> StackConfig:
    """Parse Pulumi.yaml and Pulumi.<stack>.yaml (and any overrides) without the engine.
    `deploying` False reads a stack to tear it down (see `parse`; app/Dockerfile is not judged)."""
    files = offline_files(stack, root, overrides=overrides, secret_overrides=secret_overrides, deploying=deploying)
    return from_files(files, stack, deploying=deploying)


def offline_files(
    stack: str,
    root: Path = stack_files.ROOT,
    *,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    deploying: bool = True,
) -> stack_files.StackFiles:
    """The stack files as an offline run reads them: every required value that is not set (no
    stack file commits a secret, nor the digest a release promotes) becomes a marked placeholder,
    listed in `placeholders`; secrets stay secret."""
    files = stack_files.load(stack, root, overrides=overrides, secret_overrides=secret_overrides)
    filled: set[str] = set()
    while True:
        try:
            from_files(files, stack, deploying=deploying)
        except MissingValueError as missing:
            if missing.key in filled:
                raise
            filled.add(missing.key)
            files = replace(
                files,
                values={**files.values, missing.key: missing.placeholder},
                secret_keys=files.secret_keys | ({missing.key} if missing.secret else set()),
                placeholders=frozenset(filled),
            )
        except ConfigError:
            return files  # the parse that follows reports it
        else:
            return files


def from_files(files: stack_files.StackFiles, stack: str, *, deploying: bool = True) -> StackConfig:
    refuse_retyped(files.retyped, stack)
    cfg = parse_namespaced(files.values, stack=stack, is_secret=files.secret_keys.__contains__, deploying=deploying)
    if deploying:
        refuse_unrunnable_image(cfg, files.image_release)
    return cfg


def refuse_unrunnable_image(cfg: StackConfig, release: str | None) -> None:
    """The image the pipeline builds from app/Dockerfile must run on the stack's app nodes: AKS
    runs Windows containers with process isolation, so the image's Windows release must be the
    node's (components/windows.py). None: no Dockerfile to judge (musicstore dockerfile-check
    names a Dockerfile off the table)."""
    if release is None or cfg.app.windows_version == release:
        return
    sku = next((s for s, r in WINDOWS_VERSION_FOR_OS_SKU.items() if r == release), f"{release} node")
    pools = ", ".join(f"{p.name}={p.os_sku}" for p in cfg.windows_pools)
    raise ConfigError(
        "appWindowsVersion",
        cfg.app.windows_version,
        f"app/Dockerfile builds the image on {release}, which nodes of {cfg.app.windows_version} cannot run"
        f" (Windows containers on AKS run with process isolation): set appWindowsVersion {release} with a"
        f" {sku} pool (pools: {pools}), or build app/Dockerfile on {cfg.app.windows_version}",
    )


def parse_namespaced(
    config: Mapping[str, str], *, stack: str, is_secret: Callable[[str], bool], deploying: bool = True
) -> StackConfig:
    prefix = f"{PROJECT}:"
    values = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    secrets = frozenset(k for k in values if is_secret(prefix + k))
    return parse(values, stack=stack, secret_keys=secrets, deploying=deploying)


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


def _sku_tier(read: Reader) -> str:
    """A tier the cluster's API version has: ARM refuses any other value of its enum."""
    value = read.raw("clusterSkuTier")
    tiers = dated_facts.SDK_AKS_SKU_TIERS
    if value not in tiers:
        raise ConfigError(
            "clusterSkuTier",
            value,
            f"must be one of {', '.join(tiers)}, the SKU tiers of the AKS API {dated_facts.SDK_AKS_API_VERSION}",
        )
    return value


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _maintenance_window(read: Reader) -> dict[str, str]:
    """`Sunday 08:00`: the day and UTC start of AKS's weekly 4-hour upgrade window."""
    value = read.raw("maintenanceWindow")
    found = re.fullmatch(r"(\w+) ([01]\d|2[0-3]):([0-5]\d)", value)
    if not found or found.group(1) not in WEEKDAYS:
        raise ConfigError(
            "maintenanceWindow", value, "must be a weekday and a UTC time, such as Sunday 08:00, outside every session"
        )
    return {"maintenance_day": found.group(1), "maintenance_start": f"{found.group(2)}:{found.group(3)}"}
