"""Bootcamp scale: a venue of 30 teams, cost, quotas, tags, handouts, prices and teardown."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import stat
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest

from components.naming import ACR_NAME, COMPUTER_NAME
from infra.stack_config import ConfigError
from offline import cost, prices, recording
from offline.plan import Plan, make_plan
from offline.prices import HOURS_PER_MONTH
from offline.render import document as render_document
from offline.render import render
from ops import handout, teardown
from tests.support.builders import parse_dev
from tests.support.http_stand_in import JsonHandler, serving

VENUE = "venue-ams"


@pytest.fixture(scope="module")
def venue(stack_plans: dict[str, Plan]) -> Plan:
    return stack_plans[VENUE]


def test_thirty_teams_get_their_own_registries_namespaces_and_agents(venue: Plan) -> None:
    rec, cfg = venue.recording, venue.config
    assert len(cfg.teams) == 30 and cfg.teams[0] == "team01" and cfg.teams[-1] == "team30"
    names = [r.plain("registryName") for r in rec.of_type("azure-native:containerregistry:Registry")]
    assert len(names) == 30 and len(set(names)) == 30 and all(ACR_NAME.fullmatch(n) for n in names)
    namespaces = [n.plain("metadata.name") for n in rec.of_type("kubernetes:core/v1:Namespace")]
    assert sorted(namespaces) == sorted(f"musicstore-{t}" for t in cfg.teams)
    vms = rec.of_type("azure-native:compute:VirtualMachine")
    assert len(vms) == 30 * cfg.agents.count
    owners = {vm.name.split("-agent")[0] for vm in vms}
    assert owners == set(cfg.teams)


def test_no_physical_name_collides(venue: Plan) -> None:
    keys = {
        "azure-native:containerregistry:Registry": "registryName",
        "azure-native:compute:VirtualMachine": "vmName",
        "azure-native:network:NetworkInterface": "networkInterfaceName",
        "azure-native:devtestlab:GlobalSchedule": "name",
    }
    for typ, key in keys.items():
        names = [r.plain(key) for r in venue.recording.of_type(typ)]
        assert len(names) == len(set(names)), typ
    computers = [
        vm.plain("osProfile.computerName") for vm in venue.recording.of_type("azure-native:compute:VirtualMachine")
    ]
    assert len(set(computers)) == len(computers) and all(COMPUTER_NAME.fullmatch(c) for c in computers)
    pools = {p.plain("agentPoolName") for p in venue.recording.of_type("azure-native:containerservice:AgentPool")}
    assert len(pools) == len(venue.config.windows_pools)


def _accepts_tags(typ: str) -> bool:
    _, module, name = typ.split(":")
    cls = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_every_taggable_resource_carries_expiry_and_team(venue: Plan) -> None:
    taggable = [
        r for r in venue.recording.resources.values() if r.type.startswith("azure-native:") and _accepts_tags(r.type)
    ]
    assert {r.type for r in taggable} >= {
        "azure-native:resources:ResourceGroup",
        "azure-native:containerregistry:Registry",
        "azure-native:containerservice:ManagedCluster",
        "azure-native:containerservice:AgentPool",
        "azure-native:compute:VirtualMachine",
        "azure-native:compute:VirtualMachineExtension",
        "azure-native:devtestlab:GlobalSchedule",
    }
    for reg in taggable:
        tags = reg.plain("tags") or {}
        if reg.type in ("azure-native:containerservice:AgentPool", "azure-native:keyvault:Secret"):
            # A moving tag there would be real work on every change: an agent pool operation, a
            # new PAT version that reruns every bootstrap (components/naming.py, MOVING_TAGS).
            assert "expires-at" not in tags, reg.name
        else:
            assert tags.get("expires-at") == "2027-03-20T18:00:00Z", reg.name
        assert tags.get("team") in (*venue.config.teams, "shared"), reg.name
        owner = reg.name.split("-")[0]
        if owner in venue.config.teams:
            assert tags["team"] == owner, reg.name


def test_a_stack_without_expiry_says_never(stack_plans: dict[str, Plan]) -> None:
    group = stack_plans["dev"].recording.one("azure-native:resources:ResourceGroup")
    assert group.plain("tags")["expires-at"] == "never"
    assert "expires: never" in render(stack_plans["dev"])
    assert "expires: 2027-03-20T18:00:00Z" in render(stack_plans[VENUE])


# --- cost --------------------------------------------------------------------------------


def small() -> Plan:
    """dev without agents, with an external database: every line has a known price."""
    return make_plan(
        "dev",
        overrides={"agentCount": "0", "databaseMode": "external"},
        secret_overrides={"databaseConnectionString": "Server=db"},
    )


def test_the_cost_of_a_small_stack_is_the_hand_computed_figure() -> None:
    report = small().cost
    assert report is not None
    # system node D2s_v3 Linux 0.096, control plane (Free, stricter reading) 0.05, cluster
    # load balancer 0.025 and address 0.005, Windows node D4s_v3 0.376, two P10 node disks
    # 2 x 19.71/730 = 0.054, Basic registry 0.1666/24, the app's service address 0.005, the
    # registry's purge: 4 runs a day of 60 s on 2 vCPUs at $0.0001 a vCPU second.
    purge = 4 * 60 * 2 * 0.0001 / 24
    hourly = 0.096 + 0.05 + 0.025 + 0.005 + 0.376 + 0.054 + 0.1666 / 24 + 0.005 + purge
    totals = report.totals()
    assert totals.unknown == 0
    assert totals.hourly == pytest.approx(hourly)
    assert totals.session == pytest.approx(hourly * 8)
    assert totals.monthly == pytest.approx(hourly * HOURS_PER_MONTH)
    assert report.totals("team1").hourly == pytest.approx(0.1666 / 24 + 0.005 + purge)


def test_the_dev_plan_prints_the_cost_table(stack_plans: dict[str, Plan]) -> None:
    text = render(stack_plans["dev"])
    assert "Cost estimate (USD, list prices of the table of 2026-07-01" in text
    # Every line of dev has a price (its agents are regular VMs): the totals are no bounds.
    assert "    team1: $" in text and "    stack: $" in text and "unknown prices" not in text
    assert "saved by auto-shutdown: $" in text


def test_a_vm_size_missing_from_the_table_is_unknown_not_zero() -> None:
    plan = make_plan("dev", overrides={"agentVmSize": "Standard_D8s_v3"})
    report = plan.cost
    assert report is not None
    [vm] = [line for line in report.lines if line.meter.startswith("vm/Standard_D8s_v3")]
    assert vm.hourly is None and vm.monthly is None
    assert report.totals("team1").unknown >= 1 and report.totals("team1").show().startswith("at least ")
    assert "vm/Standard_D8s_v3/windows" in render(plan)


def test_a_spot_agent_without_a_spot_price_is_priced_at_its_ceiling() -> None:
    """maxPrice -1 bills at most the on-demand price; the line and the totals say it is a ceiling."""
    plan = make_plan("dev", overrides={"agentSpot": "true"})
    report = plan.cost
    assert report is not None
    [vm] = [line for line in report.lines if line.meter == "vm/Standard_D4s_v5/windows/spot"]
    assert vm.capped and vm.unit_hourly == prices.BUILT_IN["vm/Standard_D4s_v5/windows"]
    assert "Spot" not in report.savings() and "at its ceiling" in vm.item
    totals = report.totals("team1")
    assert totals.unknown == 0 and totals.capped == 1
    assert totals.show().endswith("/month (1 Spot VM(s) at their ceiling)") and "at least" not in totals.show()
    text = render(plan)
    assert "at their ceiling (no Spot price in the table" in text and "vm/Standard_D4s_v5/windows/spot" in text
    assert "saved by auto-shutdown: at most $" in text
    document = render_document(plan)["cost"]
    [line] = [x for x in document["lines"] if x["meter"] == "vm/Standard_D4s_v5/windows/spot"]
    assert line["atCeiling"] is True and document["teams"]["team1"]["cappedItems"] == 1
    assert document["teams"]["team1"]["unknownItems"] == 0


def test_a_spot_vm_without_any_price_is_unknown_not_at_a_ceiling() -> None:
    plan = make_plan("dev", overrides={"agentSpot": "true", "agentVmSize": "Standard_D8s_v5"})
    assert plan.cost is not None
    [vm] = [line for line in plan.cost.lines if line.meter == "vm/Standard_D8s_v5/windows/spot"]
    assert vm.unit_hourly is None and not vm.capped and vm.item == "Windows VM Standard_D8s_v5 (Spot)"
    assert plan.cost.totals("team1").show().startswith("at least ")


def test_a_spot_ceiling_is_the_lower_of_max_price_and_on_demand_and_unknown_without_either() -> None:
    def ceiling(max_price: float | None, on_demand: float | None) -> float | None:
        billing = {} if max_price is None else {"billingProfile": {"maxPrice": max_price}}
        reg = recording.Registration("urn", "azure-native:compute:VirtualMachine", "vm", "", True, "", [], billing)
        return cost._spot_ceiling(reg, on_demand)

    assert ceiling(None, 0.188) == 0.188  # Azure's default maxPrice is -1
    assert ceiling(-1, 0.188) == 0.188
    assert ceiling(0.05, 0.188) == 0.05
    assert ceiling(0.5, 0.188) == 0.188
    assert ceiling(0.05, None) == 0.05
    assert ceiling(-1, None) is None
    both = cost.Totals(1.0, 8.0, 730.0, unknown=2, capped=3).show()
    assert both == "$1.00/h, $8.00/session, $730.00/month (2 unpriced, 3 Spot VM(s) at their ceiling)"


def test_auto_shutdown_and_spot_savings() -> None:
    plan = make_plan("dev", overrides={"agentVmSize": "Standard_D2s_v3", "agentSpot": "true"})
    assert plan.cost is not None
    [vm] = [line for line in plan.cost.lines if line.meter == "vm/Standard_D2s_v3/windows/spot"]
    hours = HOURS_PER_MONTH / 24 * 11
    assert vm.monthly_hours == pytest.approx(hours)
    assert vm.saving_monthly["auto-shutdown"] == pytest.approx(0.0368 * (HOURS_PER_MONTH - hours))
    assert vm.saving_monthly["Spot"] == pytest.approx((0.188 - 0.0368) * hours)


# --- quotas ------------------------------------------------------------------------------


def test_demand_over_the_vcpu_quota_warns_with_the_numbers() -> None:
    plan = make_plan("dev", overrides={"quotaFamilyVcpus": "10"})
    # agent D4s_v5 4, system pool (1 + 1 surge) x 2, Windows pool (1 + 1 surge) x 4
    [warning] = [f for f in plan.findings if f.rule == "quota-exceeded"]
    assert warning.severity == "warning"
    assert warning.message == (
        "vCPUs standardDSv5Family: the stack needs 16, the limit is 10 (quotaFamilyVcpus) "
        "(aks-win22: 2 x 4; aks/system: 2 x 2; team1-agent1: 1 x 4)"
    )
    assert "EXCEEDED vCPUs standardDSv5Family: needs 16, limit 10" in render(plan)


def test_spot_vcpus_are_held_against_their_own_quota_not_the_regional_one() -> None:
    plan = make_plan("dev", overrides={"agentSpot": "true", "quotaSpotVcpus": "2", "quotaRegionalVcpus": "12"})
    rows = {row.key: row for row in plan.quotas}
    # The Spot agent's 4 vCPUs are its pool's alone: the regional row counts the AKS nodes only.
    assert rows["quotaSpotVcpus"].needed == 4 and rows["quotaSpotVcpus"].exceeded
    assert rows["quotaRegionalVcpus"].needed == 12 and not rows["quotaRegionalVcpus"].exceeded
    [warning] = [f for f in plan.findings if f.rule == "quota-exceeded"]
    assert "Spot vCPUs in the region: the stack needs 4, the limit is 2 (quotaSpotVcpus)" in warning.message


def test_real_stacks_fit_their_quotas(stack_plans: dict[str, Plan]) -> None:
    for plan in stack_plans.values():
        assert not [f for f in plan.findings if f.rule == "quota-exceeded"]


def test_windows_pools_too_small_for_the_apps_warn() -> None:
    pools = json.dumps({"win22": {"vmSize": "Standard_D4s_v3", "count": 1, "osSku": "Windows2022"}})
    plan = make_plan(VENUE, overrides={"windowsPools": pools, "appReplicas": "2"})
    [finding] = [f for f in plan.findings if f.rule == "windows-pool-capacity"]
    assert "the apps request 30 vCPUs on Windows nodes, the pools hold 3.5" in finding.message


def test_a_linux_pool_too_small_for_the_sql_servers_warns(venue: Plan) -> None:
    """30 SQL Servers of 2 GiB. AKS keeps of a node of maxPods 250 a quarter of its memory for
    the kubelet, 100 MiB for evictions and about half a GiB for its own pods: a 16 GiB node
    takes 5 of them, an 8 GiB node 2. The committed venue's six 16 GiB nodes hold the 30; five,
    the scheduler of a real API server found, leave 5 Pending."""
    assert [f for f in venue.findings if f.rule == "linux-pool-capacity"] == []
    five = make_plan(VENUE, overrides={"systemPoolCount": "5"})
    [finding] = [f for f in five.findings if f.rule == "linux-pool-capacity"]
    assert "5 of 30 pods fit no node" in finding.message
    assert "about 6 Standard_D4s_v5 nodes" in finding.message
    plan = make_plan(VENUE, overrides={"systemPoolVmSize": "Standard_D2s_v5", "systemPoolCount": "2"})
    [finding] = [f for f in plan.findings if f.rule == "linux-pool-capacity"]
    assert "the Linux pods request 60 GiB of memory, 2 GiB each" in finding.message
    assert "26 of 30 pods fit no node" in finding.message


# --- teams by count ----------------------------------------------------------------------


def test_teams_by_count_and_prefix() -> None:
    cfg = parse_dev({"teamCount": "3", "teamPrefix": "red"})
    assert cfg.teams == ("red01", "red02", "red03")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"teamCount": "2", "teams": '["a", "b"]'},
            "config musicstore:teamCount = 2: set teams or teamCount, not both",
        ),
        ({"teamCount": "31"}, "config musicstore:teamCount = 31: must be a whole number from 0 to 30"),
        ({"teamCount": "2", "teamPrefix": "Team"}, 'config musicstore:teamPrefix = "Team": must be 1-10 lowercase'),
        (
            {"expiresAt": "tomorrow"},
            'config musicstore:expiresAt = "tomorrow": must be an ISO 8601 date and time with its time zone',
        ),
        ({"sessionHours": "0"}, "config musicstore:sessionHours = 0: must be a whole number from 1 to 72"),
        ({"quotaRegionalVcpus": "0"}, "config musicstore:quotaRegionalVcpus = 0: must be a whole number"),
    ],
)
def test_scale_config_rules(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dev(overrides)
    assert str(caught.value).startswith(message)


# --- handouts ----------------------------------------------------------------------------

OUTPUTS = {
    "teams": {
        "red": {
            "registryName": "gdbcamsred1a2b3c",
            "registryLoginServer": "gdbcamsred1a2b3c.azurecr.io",
            "registryAdminUsername": "gdbcamsred1a2b3c",
            "registryAdminPassword": "s3cret-Pa55",
            "agentPool": "gdbc-red",
            "agents": [{"vmName": "vm-1"}],
            "namespace": "musicstore-red",
            "appUrl": "http://20.1.2.3/",
        }
    }
}


def test_handouts_hide_passwords_unless_asked(tmp_path: Path) -> None:
    written = handout.write(handout.sheets("ams", OUTPUTS, show_passwords=False), tmp_path)
    assert sorted(p.name for p in written) == ["red.md", "teams.csv"]
    text = (tmp_path / "red.md").read_text() + (tmp_path / "teams.csv").read_text()
    assert "s3cret-Pa55" not in text
    assert "az acr credential show --name gdbcamsred1a2b3c" in text
    assert "gdbcamsred1a2b3c.azurecr.io" in text and "gdbc-red" in text and "http://20.1.2.3/" in text


def test_handouts_show_passwords_when_asked(tmp_path: Path) -> None:
    handout.write(handout.sheets("ams", OUTPUTS, show_passwords=True), tmp_path)
    assert "`s3cret-Pa55`" in (tmp_path / "red.md").read_text()
    masked = {"teams": {"red": {**OUTPUTS["teams"]["red"], "registryAdminPassword": "[secret]"}}}
    with pytest.raises(handout.HandoutError, match="--show-secrets"):
        handout.sheets("ams", masked, show_passwords=True)


def test_handouts_are_the_organizers_alone_even_where_wider_ones_were(tmp_path: Path) -> None:
    folder = tmp_path / "handouts"
    folder.mkdir(mode=0o755)
    (folder / "red.md").write_text("an old sheet")
    (folder / "red.md").chmod(0o644)
    old = os.umask(0)  # the widest a process can be asked to create with
    try:
        written = handout.write(handout.sheets("ams", OUTPUTS, show_passwords=True), folder)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {"red.md": 0o600, "teams.csv": 0o600}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Current stack is venue-ams\n",
            "is not JSON (Expecting value, line 1): take the outputs with pulumi stack output",
        ),
        ('["teams"]', "holds JSON but not the outputs' object"),
        ('{"teams": "[secret]"}', "`teams` is a secret: take them with pulumi stack output --json --show-secrets"),
    ],
)
def test_outputs_a_handout_cannot_read_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (tmp_path / "outputs.json").write_text(text)
    assert handout.main([VENUE, "--outputs", str(tmp_path / "outputs.json"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_handouts_from_the_offline_plan_cover_every_team(tmp_path: Path) -> None:
    assert handout.main([VENUE, "--offline", "--out", str(tmp_path)]) == 0
    rows = (tmp_path / VENUE / "teams.csv").read_text().splitlines()
    assert len(rows) == 31 and len(list((tmp_path / VENUE).glob("team*.md"))) == 30


# --- prices ------------------------------------------------------------------------------


class _RetailPrices(JsonHandler):
    """The Azure Retail Prices API's documented shape: Items, NextPageLink."""

    pages: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        host = f"http://{self.headers['Host']}"
        if "page=2" in self.path:
            body = {"Items": [], "NextPageLink": None}
        elif "Virtual Machines" in self.path.replace("%20", " "):
            body = {
                "Items": [
                    {
                        "serviceName": "Virtual Machines",
                        "armSkuName": "Standard_D4s_v3",
                        "productName": "Virtual Machines DSv3 Series Windows",
                        "skuName": "D4s v3",
                        "meterName": "D4s v3",
                        "retailPrice": 0.4,
                        "unitOfMeasure": "1 Hour",
                        "tierMinimumUnits": 0,
                    },
                    {
                        "serviceName": "Virtual Machines",
                        "armSkuName": "Standard_D4s_v3",
                        "productName": "Virtual Machines DSv3 Series Windows",
                        "skuName": "D4s v3 Spot",
                        "meterName": "D4s v3 Spot",
                        "retailPrice": 0.08,
                        "unitOfMeasure": "1 Hour",
                        "tierMinimumUnits": 0,
                    },
                    {
                        "serviceName": "Virtual Machines",
                        "armSkuName": "Standard_D4s_v3",
                        "productName": "Virtual Machines DSv3 Series",
                        "skuName": "D4s v3 Low Priority",
                        "meterName": "D4s v3 Low Priority",
                        "retailPrice": 0.04,
                        "unitOfMeasure": "1 Hour",
                        "tierMinimumUnits": 0,
                    },
                ],
                "NextPageLink": f"{host}/prices?page=2",
            }
        elif "Storage" in self.path:
            body = {
                "Items": [
                    {
                        "serviceName": "Storage",
                        "productName": "Premium SSD Managed Disks",
                        "meterName": "P15 LRS Disk",
                        "skuName": "P15 LRS",
                        "retailPrice": 36.5,
                        "unitOfMeasure": "1/Month",
                        "tierMinimumUnits": 0,
                    },
                    {
                        "serviceName": "Storage",
                        "productName": "Standard SSD Managed Disks",
                        "meterName": "E2 LRS Disk",
                        "skuName": "E2 LRS",
                        "retailPrice": 0.7,
                        "unitOfMeasure": "1/Month",
                        "tierMinimumUnits": 0,
                    },
                ],
                "NextPageLink": None,
            }
        elif "NAT Gateway" in self.path.replace("%20", " "):
            body = {
                "Items": [
                    {
                        "serviceName": "NAT Gateway",
                        "productName": "NAT Gateway",
                        "skuName": "Standard",
                        "meterName": "Standard Gateway",
                        "retailPrice": 0.05,
                        "unitOfMeasure": "1 Hour",
                        "tierMinimumUnits": 0,
                    },
                    {
                        "serviceName": "NAT Gateway",
                        "productName": "NAT Gateway",
                        "skuName": "Standard",
                        "meterName": "Standard Data Processed",
                        "retailPrice": 0.05,
                        "unitOfMeasure": "1 GB",
                        "tierMinimumUnits": 0,
                    },
                ],
                "NextPageLink": None,
            }
        else:
            body = {"Items": [], "NextPageLink": None}
        self.send_json(body)


def test_prices_refresh_reads_the_retail_api_pages_into_meters(tmp_path: Path) -> None:
    with serving(_RetailPrices) as api:
        found = prices.meters(prices.retail_items("westeurope", api=f"{api}/prices"))
    assert found == {
        "vm/Standard_D4s_v3/windows": 0.4,
        "vm/Standard_D4s_v3/windows/spot": 0.08,
        "disk/P15": 36.5 / HOURS_PER_MONTH,
        "disk/E2": 0.7 / HOURS_PER_MONTH,
        "nat-gateway": 0.05,
    }
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"date": "2026-11-21", "source": "test", "hourly": found}))
    loaded = prices.load(table)
    assert loaded.get("disk/P15") == pytest.approx(0.05) and loaded.get("acr/Basic") == prices.BUILT_IN["acr/Basic"]
    plan = make_plan("dev", price_table=loaded)
    assert plan.cost is not None and "disk/P15" not in {line.meter for line in plan.cost.unknown()}


# --- teardown ----------------------------------------------------------------------------


def test_teardown_dry_run_lists_what_would_go() -> None:
    deployment = {
        "resources": [
            {"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:ams::musicstore::pulumi:pulumi:Stack::musicstore-ams"},
            {"type": "pulumi:providers:azure-native", "urn": "urn:...::default"},
            {
                "type": "azure-native:resources:ResourceGroup",
                "urn": "urn:pulumi:ams::musicstore::azure-native:resources:ResourceGroup::rg",
            },
            {"type": "azure-native:containerregistry:Registry", "urn": "urn:...::team01-registry"},
        ]
    }
    items = teardown.listing(deployment)
    assert items == [
        ("azure-native:resources:ResourceGroup", "rg"),
        ("azure-native:containerregistry:Registry", "team01-registry"),
    ]
    assert teardown.describe(items)[0] == "2 resources would be destroyed:"


def test_teardown_refuses_before_touching_pulumi(capsys: pytest.CaptureFixture[str]) -> None:
    assert teardown.main(["prod", "--confirm", "destroy prod"]) == 3
    assert teardown.main(["dev", "--confirm", "destroy it"]) == 3
    assert teardown.main(["dev", "--expired"]) == 3
    err = capsys.readouterr().err
    assert "teardownAllowed: false" in err and "must read exactly 'destroy dev'" in err and "no expiresAt" in err


# --- the offline run's speed-up ----------------------------------------------------------


def test_only_the_sdks_version_aliases_are_dropped_offline() -> None:
    version = pulumi.Alias(type_="azure-native:containerregistry/v20230701:Registry")
    rename = pulumi.Alias(name="old-registry")
    assert recording._is_version_alias(version)
    assert not recording._is_version_alias(rename)
    assert not recording._is_version_alias(pulumi.Alias(type_="musicstore:azure:OldRegistry"))


def test_prices_of_another_region_are_said_so_and_the_regions_own_table_is_taken(tmp_path: Path) -> None:
    plan = make_plan("dev")
    [warned] = [f for f in plan.findings if f.rule == "prices-of-another-region"]
    assert "eastus prices of 2026-07-01" in warned.message and "--region westeurope" in warned.message
    table = tmp_path / "prices.json"
    table.write_text(
        json.dumps({"date": "2026-12-01", "source": "a table of westeurope", "region": "westeurope", "hourly": {}})
    )
    regional = make_plan("dev", price_table=prices.load(table))
    [found] = [f for f in regional.findings if f.rule == "prices-of-another-region"]
    # The region is the stack's; only the meters this (empty) table lacks are named East US's.
    assert "not westeurope's" not in found.message and "the westeurope table of 2026-12-01 lacks" in found.message


def test_with_a_table_of_its_region_the_venue_has_no_unpriced_resource(tmp_path: Path) -> None:
    """The figures here are the stand-in API's, not Azure's: what is shown is that every
    billable resource of the venue meets a meter, and that the meters the refreshed table lacks
    (the stand-in serves few) are named as East US's."""
    with serving(_RetailPrices) as api:
        found = prices.meters(prices.retail_items("westeurope", api=f"{api}/prices"))
    spot = {"vm/Standard_D2s_v5/windows/spot": 0.05}  # the one meter the stand-in does not list
    table = tmp_path / "prices.json"
    document = {"date": "2026-12-01", "source": "stand-in API", "region": "westeurope", "hourly": found | spot}
    table.write_text(json.dumps(document))
    plan = make_plan(VENUE, price_table=prices.load(table))
    assert plan.cost is not None and plan.cost.unknown() == []
    [borrowed] = [f for f in plan.findings if f.rule == "prices-of-another-region"]
    assert "the westeurope table of 2026-12-01 lacks" in borrowed.message
    assert "vm/Standard_D4s_v5/windows" in borrowed.message and "disk/P15" not in borrowed.message
    assert "list prices of the table of 2026-12-01" in render(plan)
    assert plan.cost.totals().unknown == 0 and plan.cost.totals("team07").unknown == 0


def test_the_readmes_venue_figures_are_the_plans(venue: Plan) -> None:
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    totals = venue.cost.totals() if venue.cost else None
    assert totals is not None
    assert totals.unknown == 0 and totals.capped == 30
    assert f"${totals.hourly:,.2f}/h, ${totals.session:,.2f} a session of 8 hours" in readme
    assert totals.show().endswith("(30 Spot VM(s) at their ceiling)")
    assert f"${totals.monthly:,.2f} a month, East US prices of {prices.TABLE_DATE}" in readme
    team = venue.cost.totals("team07") if venue.cost else None
    assert team is not None and f"one team ${team.hourly:,.2f}/h, ${team.session:,.2f} a session" in readme
    assert f"${team.monthly:,.2f} a month, the shared part" in readme
    shared = venue.cost.totals("shared") if venue.cost else None
    assert shared is not None and f"${shared.hourly:,.2f}/h and ${shared.session:,.2f} a session;" in readme
    capped = sorted({line.meter for line in venue.cost.capped()}) if venue.cost else []
    assert capped == ["vm/Standard_D2s_v5/windows/spot"]
