"""Every config rule, broken once, with the one-line message it must give."""

from __future__ import annotations

import json

import pytest

from infra import stack_files
from infra.config import offline_files, parse
from infra.config_sections import PLACEHOLDER_DIGEST, check_os_sku
from infra.stack_config import ConfigError, MissingValueError, Secret, StackConfig
from tests.support.builders import DEV, DEV_SECRETS, parse_dev


def pools(**spec: object) -> str:
    return json.dumps({"win22": {"vmSize": "Standard_D4s_v3", "count": 1, "osSku": "Windows2022", **spec}})


RULES = [
    # (case id, overrides, key named in the message, words of the rule)
    ("environment-case", {"environment": "Dev"}, "environment", "2-8 lowercase letters and digits"),
    ("prefix-short", {"namePrefix": "g"}, "namePrefix", "2-8 lowercase letters and digits"),
    ("location-format", {"location": "West Europe"}, "location", "Azure region name"),
    ("teams-empty", {"teams": "[]"}, "teams", "must list 1 to 30 teams"),
    ("teams-too-many", {"teams": json.dumps([f"t{i}" for i in range(31)])}, "teams", "must list 1 to 30 teams"),
    ("teams-not-json", {"teams": "team1"}, "teams", "JSON list of team names"),
    ("team-name", {"teams": '["team1", "Team_2"]'}, "teams[1]", "team names are 1-12 lowercase"),
    ("team-duplicate", {"teams": '["red", "red"]'}, "teams", "must be unique (red repeats)"),
    ("registry-sku", {"registrySku": "Free"}, "registrySku", "must be one of Basic, Standard, Premium"),
    ("k8s-version", {"kubernetesVersion": "latest"}, "kubernetesVersion", "Kubernetes version 1.MINOR"),
    ("k8s-unknown-minor", {"kubernetesVersion": "1.99"}, "kubernetesVersion", "must be an AKS minor of the table"),
    ("maintenance-day", {"maintenanceWindow": "Sun 08:00"}, "maintenanceWindow", "must be a weekday and a UTC time"),
    ("maintenance-hour", {"maintenanceWindow": "Sunday 24:00"}, "maintenanceWindow", "must be a weekday and a UTC"),
    (
        "cluster-tier",
        {"clusterSkuTier": "Gold"},
        "clusterSkuTier",
        "must be one of Free, Premium, Standard, the SKU tiers of the AKS API",
    ),
    ("system-pool-name", {"systemPoolName": "system-pool"}, "systemPoolName", "Linux pool names are 1-12"),
    ("system-pool-size", {"systemPoolVmSize": "D2s_v3"}, "systemPoolVmSize", "Azure VM size"),
    ("system-pool-count", {"systemPoolCount": "0"}, "systemPoolCount", "whole number from 1 to 100"),
    ("system-pool-count-text", {"systemPoolCount": "two"}, "systemPoolCount", "whole number from 1 to 100"),
    ("windows-pools-none", {"windowsPools": "{}"}, "windowsPools", "at least one Windows pool"),
    ("windows-pools-list", {"windowsPools": "[]"}, "windowsPools", "object of Windows pools keyed by name"),
    ("windows-pool-name", {"windowsPools": '{"windows": {}}'}, "windowsPools.windows", "Windows pool names are 1-6"),
    ("windows-pool-spec", {"windowsPools": '{"win": 3}'}, "windowsPools.win", "must be an object with vmSize"),
    ("windows-pool-key", {"windowsPools": pools(size="big")}, "windowsPools.win22.size", "is not a pool setting"),
    ("windows-pool-size", {"windowsPools": pools(vmSize="huge")}, "windowsPools.win22.vmSize", "Azure VM size"),
    ("windows-pool-count", {"windowsPools": pools(count=101)}, "windowsPools.win22.count", "from 0 to 100"),
    ("windows-2019", {"windowsPools": pools(osSku="Windows2019")}, "windowsPools.win22.osSku", "retired on 2026-03-01"),
    ("windows-sku", {"windowsPools": pools(osSku="Ubuntu")}, "windowsPools.win22.osSku", "Windows2022 or Windows2025"),
    (
        "windows-2022-k8s",
        {"kubernetesVersion": "1.37"},
        "windowsPools.win22.osSku",
        "not supported on Kubernetes 1.37",
    ),
    (
        "k8s-below-the-table",
        {"kubernetesVersion": "1.31", "windowsPools": pools(osSku="Windows2025")},
        "kubernetesVersion",
        "must be an AKS minor of the table read 2026-12-01, 1.32 to 1.37",
    ),
    (
        "autoscale-order",
        {"windowsPools": pools(minCount=3, maxCount=2, count=2)},
        "windowsPools.win22.minCount",
        "must not exceed maxCount 2",
    ),
    (
        "autoscale-count",
        {"windowsPools": pools(minCount=1, maxCount=2, count=5)},
        "windowsPools.win22.count",
        "between minCount 1 and maxCount 2",
    ),
    ("max-pods", {"windowsPools": pools(maxPods=250)}, "windowsPools.win22.maxPods", "from 10 to 110"),
    ("admin-forbidden", {"windowsAdminUsername": "Administrator"}, "windowsAdminUsername", "Azure forbids"),
    ("admin-long", {"windowsAdminUsername": "a" * 21}, "windowsAdminUsername", "1-20 letters"),
    ("admin-dot", {"windowsAdminUsername": "gdbc."}, "windowsAdminUsername", "not ending in '.'"),
    ("network-policy", {"networkPolicy": "azure"}, "networkPolicy", "Azure NPM is unsupported on Windows"),
    ("vnet-host-bits", {"vnetCidr": "10.20.0.1/16"}, "vnetCidr", "host bits zero"),
    ("vnet-public", {"vnetCidr": "8.8.0.0/16"}, "vnetCidr", "private IPv4 range"),
    ("vnet-size", {"vnetCidr": "10.20.0.0/28"}, "vnetCidr", "/8 to /24"),
    ("pod-overlap", {"podCidr": "10.20.128.0/17"}, "podCidr", "must not overlap vnetCidr 10.20.0.0/16"),
    ("service-overlap-vnet", {"serviceCidr": "10.20.0.0/20"}, "serviceCidr", "must not overlap vnetCidr"),
    ("service-overlap-pods", {"serviceCidr": "192.168.0.0/20"}, "serviceCidr", "must not overlap podCidr"),
    ("service-size", {"serviceCidr": "10.1.0.0/28"}, "serviceCidr", "/24 or larger"),
    ("image-repository", {"appImageRepository": "MvcMusicStore"}, "appImageRepository", "repository name"),
    ("image-tag", {"appImageTag": "my tag"}, "appImageTag", "must be an image tag"),
    ("image-digest", {"appImageDigest": "sha256:abc"}, "appImageDigest", "64 lowercase hex digits"),
    ("app-windows-version", {"appWindowsVersion": "ltsc2019"}, "appWindowsVersion", "one of ltsc2022, ltsc2025"),
    (
        "app-without-pool",
        {"appWindowsVersion": "ltsc2025"},
        "appWindowsVersion",
        "matching OS SKU, as Windows containers on AKS run with process isolation (pools: win22=Windows2022)",
    ),
    ("app-replicas", {"appReplicas": "0"}, "appReplicas", "whole number from 1 to 20"),
    ("database-mode", {"databaseMode": "azure"}, "databaseMode", "one of in-cluster, external"),
    (
        "database-external",
        {"databaseMode": "external"},
        "databaseConnectionString",
        "required when databaseMode is external",
    ),
    ("unknown-key", {"team": "red"}, "team", "is not a key this project knows"),
    ("agent-count", {"agentCount": "11"}, "agentCount", "whole number from 0 to 10"),
    ("agent-size", {"agentVmSize": "Standard-D4"}, "agentVmSize", "Azure VM size"),
    ("agent-disk", {"agentOsDiskSizeGb": "64"}, "agentOsDiskSizeGb", "whole number from 128 to 2048"),
    ("agent-spot", {"agentSpot": "yes"}, "agentSpot", "must be true or false"),
    ("agent-admin", {"agentAdminUsername": "root"}, "agentAdminUsername", "Azure forbids"),
    ("agent-pool-name", {"agentPoolName": "pool/" * 3}, "agentPoolName", "Azure DevOps pool name"),
    (
        "agent-pool-per-team",
        {"teams": '["red", "blue"]', "agentPoolName": "gdbc"},
        "agentPoolName",
        "must contain {team} when the stack serves several teams",
    ),
    ("agent-rdp-any", {"agentRdpSourceRanges": '["0.0.0.0/0"]'}, "agentRdpSourceRanges[0]", "never opened"),
    ("agent-rdp-internet", {"agentRdpSourceRanges": '["Internet"]'}, "agentRdpSourceRanges[0]", "never opened"),
    ("agent-rdp-cidr", {"agentRdpSourceRanges": '["203.0.113.7/24"]'}, "agentRdpSourceRanges[0]", "host bits zero"),
    ("agent-rdp-wide", {"agentRdpSourceRanges": '["64.0.0.0/2"]'}, "agentRdpSourceRanges[0]", "/8 or narrower"),
    ("agent-shutdown-time", {"agentShutdownTime": "7pm"}, "agentShutdownTime", "24-hour time HHmm"),
    ("agent-shutdown-hour", {"agentShutdownTime": "2460"}, "agentShutdownTime", "24-hour time HHmm"),
    ("agent-time-zone", {"agentShutdownTimeZone": ""}, "agentShutdownTimeZone", "Windows time zone id"),
    ("agent-docker", {"agentDockerVersion": "latest"}, "agentDockerVersion", "version such as 27.3.1"),
    ("agent-package", {"agentPackageVersion": "4"}, "agentPackageVersion", "version such as 4.252.0"),
    ("promote-digest", {"promoteDigest": "sha256:12"}, "promoteDigest", "64 lowercase hex digits"),
    ("promote-source", {"promoteDigest": "sha256:" + "a" * 64}, "promoteDigest", "needs promoteFromStack"),
    (
        "promote-tag",
        {"promoteFromStack": "dev2", "promoteDigest": "sha256:" + "a" * 64, "promoteTag": "latest"},
        "promoteTag",
        "semantic version",
    ),
    (
        "promote-and-digest",
        {
            "promoteFromStack": "dev2",
            "promoteDigest": "sha256:" + "a" * 64,
            "promoteTag": "1.0.0",
            "appImageDigest": "sha256:" + "b" * 64,
        },
        "appImageDigest",
        "must be empty when promoteDigest decides the image",
    ),
    ("promotion-method", {"promotionMethod": "skopeo"}, "promotionMethod", "one of auto, acr-import, oci-copy"),
    ("app-await-rollout", {"appAwaitRollout": "maybe"}, "appAwaitRollout", "must be true or false"),
    ("agent-auto-shutdown", {"agentAutoShutdown": "on"}, "agentAutoShutdown", "must be true or false"),
    ("agent-daily-hours", {"agentDailyHours": "25"}, "agentDailyHours", "whole number from 1 to 24"),
    ("teardown-allowed", {"teardownAllowed": "no"}, "teardownAllowed", "must be true or false"),
    ("protect-resources", {"protectResources": "yes"}, "protectResources", "must be true or false"),
    ("quota-family", {"quotaFamilyVcpus": "0"}, "quotaFamilyVcpus", "whole number from 1 to 100000"),
    ("quota-addresses", {"quotaPublicIps": "-4"}, "quotaPublicIps", "whole number from 1 to 100000"),
    ("quota-registries", {"quotaRegistries": "many"}, "quotaRegistries", "whole number from 1 to 100000"),
    ("azdo-url", {"azdoOrganizationUrl": "dev.azure.com/x"}, "azdoOrganizationUrl", "https://dev.azure.com/"),
    ("purge-switch", {"registryPurge": "yes"}, "registryPurge", "must be true or false"),
    ("purge-keep", {"registryPurgeKeep": "0"}, "registryPurgeKeep", "whole number from 1 to 1000"),
    ("purge-schedule", {"registryPurgeSchedule": "hourly"}, "registryPurgeSchedule", "five-field cron in UTC"),
    ("purge-schedule-hour", {"registryPurgeSchedule": "0 24 * * *"}, "registryPurgeSchedule", "minute hour"),
    ("purge-prod-elsewhere", {"registryPurgeProd": "true"}, "registryPurgeProd", "applies to a prod stack only"),
    (
        "purge-prod-without-purge",
        {"environment": "prod", "registryPurge": "false", "registryPurgeProd": "true"},
        "registryPurgeProd",
        "needs registryPurge true",
    ),
    ("purge-build-id-deployed", {"appImageTag": "1234"}, "appImageTag", "is a build id, which the registry purge"),
]


@pytest.mark.parametrize(("overrides", "key", "rule"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rule_gives_one_line_naming_key_value_and_rule(overrides: dict[str, str], key: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev(overrides)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"config musicstore:{key} = ")
    assert rule in message


def test_every_key_of_pulumi_yaml_is_known_and_the_defaults_parse() -> None:
    cfg = parse(DEV, stack="dev", secret_keys=DEV_SECRETS)
    assert cfg.teams == ("team1",)
    assert cfg.windows_pools[0].name == "win22"


def test_connection_string_set_in_clear_is_refused_without_showing_it() -> None:
    values = {"databaseMode": "external", "databaseConnectionString": "Password=hunter2"}
    with pytest.raises(ConfigError) as caught:
        parse_dev(values)
    assert "must be set as a secret" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_secret_connection_string_is_kept_wrapped() -> None:
    values = {"databaseMode": "external", "databaseConnectionString": "Password=hunter2"}
    cfg = parse_dev(values, secrets=DEV_SECRETS | {"databaseConnectionString"})
    assert isinstance(cfg, StackConfig) and isinstance(cfg.database.connection_string, Secret)
    assert "hunter2" not in repr(cfg)
    assert cfg.database.connection_string.reveal() == "Password=hunter2"


def test_autoscaling_needs_both_bounds() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev({"windowsPools": pools(minCount=1)})
    assert str(caught.value).startswith("config musicstore:windowsPools.win22.maxCount = null")


def test_promotion_source_must_be_another_stack() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev({"promoteFromStack": "dev"})
    assert str(caught.value) == 'config musicstore:promoteFromStack = "dev": must name another stack, not this one'


def test_promotion_source_must_be_a_stack_name() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev({"promoteFromStack": "a b"}, stack="prod")
    assert "must be a stack name, or organization/project/stack" in str(caught.value)


def test_agents_without_a_pat_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({k: v for k, v in DEV.items() if k != "azdoPat"}, stack="dev", secret_keys=DEV_SECRETS)
    assert str(caught.value) == (
        "config musicstore:azdoPat = null: is required when agentCount is above 0: pulumi config set --secret azdoPat"
    )


def test_managing_azure_devops_needs_its_own_admin_pat() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({k: v for k, v in DEV.items() if k != "azdoAdminPat"}, stack="dev", secret_keys=DEV_SECRETS)
    assert str(caught.value) == (
        "config musicstore:azdoAdminPat = null: is required when azdoManage is on:"
        " pulumi config set --secret azdoAdminPat"
    )
    off = parse_dev({"azdoManage": "false"})
    assert off.devops is None  # without azdoManage, only the agents' PAT is asked for


def test_pat_in_clear_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev({"azdoPat": "pat-in-clear"}, secrets=frozenset())
    assert "must be set as a secret" in str(caught.value) and "pat-in-clear" not in str(caught.value)


def test_no_agents_need_no_pat() -> None:
    values = {k: v for k, v in DEV.items() if k not in ("azdoPat", "azdoAdminPat")}
    cfg = parse({**values, "agentCount": "0", "azdoOrganizationUrl": ""}, stack="prod")
    assert cfg.agents.count == 0 and cfg.agents.pat is None


def test_a_missing_key_names_where_its_default_lives() -> None:
    values = {k: v for k, v in DEV.items() if k != "registrySku"}
    with pytest.raises(ConfigError) as caught:
        parse(values, stack="dev", secret_keys=DEV_SECRETS)
    assert str(caught.value) == "config musicstore:registrySku = null: is required (Pulumi.yaml declares its default)"


def test_prod_without_the_released_digest_stops_naming_the_key_and_plans_offline_with_a_marked_one() -> None:
    files = stack_files.load("prod")
    assert files.values.get("musicstore:promoteDigest", "") == ""  # no stack file commits a digest
    values = {k.split(":", 1)[1]: v for k, v in files.values.items()}
    with pytest.raises(MissingValueError) as caught:
        parse(
            {**values, "databaseConnectionString": "x"},
            stack="prod",
            secret_keys=frozenset({"databaseConnectionString"}),
        )
    assert str(caught.value).startswith("config musicstore:promoteDigest = null: is required when promoteFromStack")
    assert "pulumi config set promoteDigest sha256:" in str(caught.value)
    offline = offline_files("prod")
    assert offline.values["musicstore:promoteDigest"] == PLACEHOLDER_DIGEST
    assert "musicstore:promoteDigest" in offline.placeholders
    assert "musicstore:promoteDigest" not in offline.secret_keys


def test_windows2025_needs_kubernetes_132_even_when_the_table_knows_an_older_minor() -> None:
    # Every minor of today's table is 1.32 or later; an LTS minor added to it must not take Windows2025.
    with pytest.raises(ConfigError, match=r"Windows2025 needs Kubernetes 1\.32 or later, not 1\.30"):
        check_os_sku("windowsPools.win25.osSku", "Windows2025", 30)


def test_the_admin_pat_may_not_be_the_agents() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev({"azdoAdminPat": DEV["azdoPat"]})
    message = str(caught.value)
    assert message.startswith("config musicstore:azdoAdminPat = [secret]: must not be the agents' azdoPat")
    assert DEV["azdoPat"] not in message
