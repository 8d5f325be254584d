"""The price table of the plan's cost estimate, and its refresh from Azure's public price list.

Prices are USD, pay-as-you-go list prices of East US (shared/reference/azure-facts.md, which
gives the date and the source of each), per hour. A meter missing here is unknown, never
zero. `musicstore prices refresh --region REGION --out FILE` asks the Azure Retail
Prices API (no credentials) for the meters the stacks use and writes a table the plan takes
with `--prices FILE`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from infra import messages

TABLE_DATE = "2026-07-01"
TABLE_SOURCE = (
    "azure-facts.md (Azure retail prices, East US, mid-2026); the NAT gateway, the P15 and E2 disks "
    "and the Dsv5 sizes as offline/prices.py notes"
)
TABLE_REGION = "eastus"  # the built-in table's prices are East US's; other regions differ
HOURS_PER_MONTH = 730
RETAIL_API = "https://prices.azure.com/api/retail/prices"


@dataclass(frozen=True)
class VmSize:
    vcpus: int
    family: str  # the quota family, as `az vm list-usage` names it

    @property
    def memory_gib(self) -> int:
        # Every size here is a general-purpose D-series (v3, v5): 4 GiB per vCPU.
        return 4 * self.vcpus


# vCPUs and quota family of the VM sizes the stacks use (Azure's size documentation).
VM_SIZES: dict[str, VmSize] = {
    "Standard_D2s_v3": VmSize(2, "standardDSv3Family"),
    "Standard_D4s_v3": VmSize(4, "standardDSv3Family"),
    "Standard_D8s_v3": VmSize(8, "standardDSv3Family"),
    "Standard_D16s_v3": VmSize(16, "standardDSv3Family"),
    "Standard_D2s_v5": VmSize(2, "standardDSv5Family"),
    "Standard_D4s_v5": VmSize(4, "standardDSv5Family"),
    "Standard_D8s_v5": VmSize(8, "standardDSv5Family"),
}

# Meter -> USD per hour. Keys: vm/<size>/<windows|linux>[/spot], aks/<tier>, acr/<sku>,
# acr/task-vcpu (a vCPU of an ACR task run), public-ip, load-balancer, load-balancer-rule,
# disk/<tier>, nat-gateway.
BUILT_IN: dict[str, float] = {
    "vm/Standard_D2s_v3/windows": 0.188,
    "vm/Standard_D2s_v3/linux": 0.096,
    "vm/Standard_D4s_v3/windows": 0.376,
    "vm/Standard_D4s_v3/linux": 0.192,
    "vm/Standard_D2s_v3/windows/spot": 0.0368,
    "vm/Standard_D2s_v3/linux/spot": 0.0188,
    # Dsv5, the defaults since Dsv3 is closed to new subscriptions: the Azure retail price list
    # (East US, pay-as-you-go) lists each Dsv5 size at its Dsv3 price. Not re-read here, as no
    # network is at hand: `musicstore prices refresh` reads the current figures.
    "vm/Standard_D2s_v5/windows": 0.188,
    "vm/Standard_D2s_v5/linux": 0.096,
    "vm/Standard_D4s_v5/windows": 0.376,
    "vm/Standard_D4s_v5/linux": 0.192,
    # The Free tier shows a $0.05/h meter from 2026-10-01 (unsure): the stricter reading.
    "aks/Free": 0.05,
    "aks/Standard": 0.10,
    "aks/Premium": 0.60,
    "acr/Basic": 0.1666 / 24,
    "acr/Standard": 0.6666 / 24,
    "acr/Premium": 1.6666 / 24,
    # Not in azure-facts.md: ACR Tasks bill each run's vCPUs by the second, $0.0001 per vCPU
    # second, as a third-party copy of the Container Registry price page gives it (c3x.dev,
    # azurerm_container_registry: "$0.0001/CPU-second for standard runners"); here per vCPU hour.
    "acr/task-vcpu": 0.0001 * 3600,
    "public-ip": 0.005,
    "load-balancer": 0.025,  # the first five rules
    "load-balancer-rule": 0.01,  # each rule past five
    "disk/P10": 19.71 / HOURS_PER_MONTH,
    "disk/E10": 9.60 / HOURS_PER_MONTH,
    # Not in azure-facts.md: the agents' 256 GiB OS disk (P15) and the SQL volumes' 8 GiB (E2).
    # Third-party copies of the Retail Prices API's East US rows (the whole-disk "<tier> LRS
    # Disk" meter, unit 1/Month) give P15 $38.012142 (one of them from a query of 2026-09-20)
    # and E2 $0.60, with P10 $19.71 and E10 $9.60, the figures above. Microsoft's ga4gh-tes
    # (src/TesApi.Tests/PriceApiBatchSkuInformationProviderTests.cs) has the Standard SSD rows
    # per hour: E2 $0.000821372 and E10 $0.0131420, $0.60 and $9.60 a month of 730.485 hours.
    # Standard SSD also bills transactions, which are not estimated.
    "disk/P15": 38.012142 / HOURS_PER_MONTH,
    "disk/E2": 0.60 / HOURS_PER_MONTH,
    # Not in azure-facts.md: a third-party price page (c3x.dev, azurerm_nat_gateway, 2026) gives
    # the gateway hour as "roughly $0.045"; data processed ($0.045/GB there) is not estimated.
    "nat-gateway": 0.045,
}

# Premium SSD tiers by size (GiB); AKS and the agents use Premium_LRS OS disks.
PREMIUM_TIERS = ((32, "P4"), (64, "P6"), (128, "P10"), (256, "P15"), (512, "P20"), (1024, "P30"), (2048, "P40"))


def premium_tier(size_gib: int) -> str:
    return next((tier for limit, tier in PREMIUM_TIERS if size_gib <= limit), "P50+")


# Standard SSD tiers by size (GiB): the disks of the managed-csi storage class (StandardSSD_LRS).
STANDARD_SSD_TIERS = ((4, "E1"), (8, "E2"), (16, "E3"), (32, "E4"), (64, "E6"), (128, "E10"), (256, "E15"))


def standard_ssd_tier(size_gib: int) -> str:
    return next((tier for limit, tier in STANDARD_SSD_TIERS if size_gib <= limit), "E20+")


@dataclass(frozen=True)
class PriceTable:
    hourly: dict[str, float]
    date: str
    source: str
    region: str  # the armRegionName whose prices these are
    # Meters the table took from the built-in East US table, as its own region's were not read.
    borrowed: frozenset[str] = frozenset()

    def get(self, meter: str) -> float | None:
        return self.hourly.get(meter)


def built_in() -> PriceTable:
    return PriceTable(dict(BUILT_IN), TABLE_DATE, TABLE_SOURCE, TABLE_REGION)


def load(path: Path) -> PriceTable:
    """A refreshed table over the built-in one: what it has wins, the rest stays."""
    data = json.loads(path.read_text(encoding="utf-8"))
    region = data.get("region", "")
    borrowed = frozenset(BUILT_IN) - set(data["hourly"]) if region != TABLE_REGION else frozenset()
    return PriceTable({**BUILT_IN, **data["hourly"]}, data["date"], data["source"], region, borrowed)


# --- refresh from the Azure Retail Prices API ---------------------------------------------


def retail_items(region: str, *, api: str = RETAIL_API, timeout: float = 60) -> Iterator[dict[str, Any]]:
    """Consumption price rows of the services the stacks use, following NextPageLink."""
    services = ("Virtual Machines", "Container Registry", "Storage", "Virtual Network", "Load Balancer", "NAT Gateway")
    for service in services:
        query = f"serviceName eq '{service}' and armRegionName eq '{region}' and priceType eq 'Consumption'"
        url: str | None = f"{api}?$filter={query}"
        while url:
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
            page = response.json()
            yield from page.get("Items", [])
            url = page.get("NextPageLink")


def meters(items: Iterator[dict[str, Any]]) -> dict[str, float]:
    """Our meters from price rows; rows we cannot place are left out."""
    found: dict[str, float] = {}
    for item in items:
        key = _meter(item)
        if key and item.get("tierMinimumUnits", 0) == 0:
            per_hour = _per_hour(float(item["retailPrice"]), str(item.get("unitOfMeasure", "")))
            if per_hour is not None:
                found.setdefault(key, per_hour)
    return found


def _meter(item: dict[str, Any]) -> str | None:
    service, sku = item.get("serviceName"), str(item.get("skuName", ""))
    product, meter = str(item.get("productName", "")), str(item.get("meterName", ""))
    if service == "Virtual Machines" and item.get("armSkuName") in VM_SIZES:
        if "Low Priority" in sku or "Cloud Services" in product:
            return None
        os_name = "windows" if "Windows" in product else "linux"
        return f"vm/{item['armSkuName']}/{os_name}" + ("/spot" if "Spot" in sku else "")
    if service == "Container Registry" and meter.endswith("Registry Unit"):
        return f"acr/{meter.split()[0]}"
    if service == "Storage" and product.startswith("Premium SSD Managed Disks") and meter.endswith(" LRS Disk"):
        return f"disk/{meter.split()[0]}"
    if service == "Storage" and product.startswith("Standard SSD Managed Disks") and meter.endswith(" LRS Disk"):
        return f"disk/{meter.split()[0]}"
    if service == "NAT Gateway" and meter == "Standard Gateway":
        return "nat-gateway"
    if service == "Virtual Network" and meter == "Standard IPv4 Static Public IP":
        return "public-ip"
    if service == "Load Balancer" and meter == "Standard Included LB Rules and Outbound Rules":
        return "load-balancer"
    if service == "Load Balancer" and meter == "Standard Overage LB Rules and Outbound Rules":
        return "load-balancer-rule"
    return None


def _per_hour(price: float, unit: str) -> float | None:
    unit = unit.lower()
    if unit == "1 hour":
        return price
    if unit == "1 day":
        return price / 24
    if unit == "1/month":
        return price / HOURS_PER_MONTH
    return None


def main(argv: list[str] | None = None) -> int:
    parser = messages.Parser(prog="musicstore prices", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    refresh = sub.add_parser("refresh", help="read current list prices into a table file")
    refresh.add_argument("--region", required=True, help="armRegionName, such as westeurope")
    refresh.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        found = meters(retail_items(args.region))
    except requests.RequestException as err:
        print(messages.error_line(f"the Azure Retail Prices API could not be read: {err}"), file=sys.stderr)
        return 2
    from datetime import UTC, datetime

    document = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "source": f"Azure Retail Prices API, {args.region}",
        "region": args.region,
        "hourly": dict(sorted(found.items())),
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"{len(found)} meters of {args.region} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
