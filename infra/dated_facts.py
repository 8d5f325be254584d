"""What expires: the dated facts the defaults and the stacks rely on, each with its source and
the day it was read. The offline plan judges a stack against them at the stack's date
(`offline.expiry`); a weekly workflow does so at today's date, so a maintainer hears of an
expired fact before an organizer does. Re-read each source before an event and move READ_ON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pulumi_azure_native import containerservice
from pulumi_azure_native.containerservice import managed_cluster

# The day this table was last read against its sources; the plan warns when an event lies
# more than STALE_AFTER_DAYS after it.
READ_ON = date(2026, 12, 1)
STALE_AFTER_DAYS = 120
AKS_VERSIONS_SOURCE = (
    "learn.microsoft.com aks/supported-kubernetes-versions (read 2026-08-05) and the Azure/AKS changelog"
)
VM_SOURCE = "learn.microsoft.com virtual-machines/retirements-and-capacity-restrictions (read 2026-09-24)"
IMAGE_SOURCE = "microsoft/dotnet-framework-docker README and PR #1262 / issue #1270 (read 2026-12-01)"
SDK_SOURCE = "pulumi-azure-native 3.29.0 (pulumi_azure_native/containerservice) and azure-rest-api-specs"
POLICY_SOURCE = "learn.microsoft.com aks/use-network-policies (Calico on Windows Server 2019 and 2022 only)"


@dataclass(frozen=True, kw_only=True)
class AksMinor:
    minor: int
    ga: date
    # From this day the minor is LTS-only: Premium tier and supportPlan AKSLongTermSupport.
    community_support_ends: date
    windows_os_skus: frozenset[str]


# Where a source gives only a month, the last day of that month (the later reading).
AKS_MINORS: dict[int, AksMinor] = {
    m.minor: m
    for m in (
        AksMinor(
            minor=32,
            ga=date(2025, 4, 30),
            community_support_ends=date(2026, 5, 1),
            windows_os_skus=frozenset({"Windows2022", "Windows2025"}),
        ),
        AksMinor(
            minor=33,
            ga=date(2025, 6, 30),
            community_support_ends=date(2026, 7, 17),
            windows_os_skus=frozenset({"Windows2022", "Windows2025"}),
        ),
        AksMinor(
            minor=34,
            ga=date(2025, 11, 30),
            community_support_ends=date(2026, 11, 30),
            windows_os_skus=frozenset({"Windows2022", "Windows2025"}),
        ),
        AksMinor(
            minor=35,
            ga=date(2026, 3, 31),
            community_support_ends=date(2027, 3, 31),
            windows_os_skus=frozenset({"Windows2022", "Windows2025"}),
        ),
        AksMinor(
            minor=36,
            ga=date(2026, 6, 30),
            community_support_ends=date(2027, 6, 30),
            windows_os_skus=frozenset({"Windows2022", "Windows2025"}),
        ),
        AksMinor(
            minor=37,
            ga=date(2026, 10, 31),
            community_support_ends=date(2027, 10, 31),
            windows_os_skus=frozenset({"Windows2025"}),
        ),
    )
}
# The newest minor that still takes Windows2022 pools: the default.
DEFAULT_KUBERNETES_VERSION = "1.36"


@dataclass(frozen=True, kw_only=True)
class VmFamilyRestriction:
    family: str  # as vm_family() names it: Standard_D2s_v3 -> "Dsv3", Standard_DS2 -> "Ds"
    new_subscriptions_refused_from: date
    retires: date
    replacement: str


# Dv3/Dsv3 and the other older families: new subscriptions cannot deploy them since July 2026.
RESTRICTED_VM_FAMILIES: dict[str, VmFamilyRestriction] = {
    family: VmFamilyRestriction(
        family=family,
        new_subscriptions_refused_from=date(2026, 7, 1),
        retires=date(2029, 11, 15),
        replacement="Dsv5 (for example Standard_D4s_v5)",
    )
    for family in ("Dv3", "Dsv3", "Ev3", "Esv3", "D", "Ds", "Dv2", "Dsv2", "B", "Bs", "Av2", "F", "Fs")
}
# The Windows pools' default size, when a pool names none (the other defaults are in Pulumi.yaml).
DEFAULT_WINDOWS_VM_SIZE = "Standard_D4s_v5"

# .NET Framework base-image tags per Windows release; a tag not listed is not supported.
SUPPORTED_BASE_TAGS: dict[str, frozenset[str]] = {
    "ltsc2022": frozenset({"4.8.1-windowsservercore-ltsc2022"}),
    "ltsc2025": frozenset({"4.8.1-windowsservercore-ltsc2025"}),
}
UNSUPPORTED_BASE_TAGS: dict[str, date] = {"4.8-windowsservercore-ltsc2022": date(2025, 10, 14)}

# The AKS API version the installed SDK sends for ManagedCluster and AgentPool (its docstring
# names it) and the OS SKUs that API version knows, read from the SDK's own enum: AKS answers
# InvalidOSSKU for any other.
_SDK_TEXT = Path(managed_cluster.__file__).read_text(encoding="utf-8")
SDK_AKS_API_VERSION = (
    _api.group(1) if (_api := re.search(r"Azure REST API version (\d{4}-\d{2}-\d{2})", _SDK_TEXT)) else "unknown"
)
SDK_AKS_OS_SKUS = frozenset(member.value for member in containerservice.OSSKU)
# The cluster SKU tiers of the same API version: what `clusterSkuTier` may be.
SDK_AKS_SKU_TIERS = tuple(sorted(str(member.value) for member in containerservice.ManagedClusterSKUTier))

# Network-policy engines documented for each Windows node OS.
NETWORK_POLICY_WINDOWS: dict[str, frozenset[str]] = {
    "calico": frozenset({"Windows2019", "Windows2022"}),
    "none": frozenset({"Windows2019", "Windows2022", "Windows2025"}),
}


# Standard_<family letters><vCPUs><feature letters>[_v<version>]: D4s_v5, DS2_v2, B2ms, E8-4as_v5.
SIZE_NAME = re.compile(r"^Standard_([A-Z]+)(\d+)(?:-\d+)?([a-z]*)(?:_(v\d+))?")


def vm_family(size: str) -> str | None:
    """The size's family with its premium-storage `s` and version: Standard_D4s_v3 -> "Dsv3",
    Standard_DS2_v2 -> "Dsv2", Standard_B2ms -> "Bs", Standard_D4s_v5 -> "Dsv5"."""
    found = SIZE_NAME.match(size)
    if not found:
        return None
    letters, _, features, version = found.groups()
    premium = "s" in features or (len(letters) > 1 and letters.endswith("S"))
    return f"{letters[0]}{'s' if premium else ''}{version or ''}"


def restriction(size: str) -> VmFamilyRestriction | None:
    family = vm_family(size)
    return RESTRICTED_VM_FAMILIES.get(family) if family else None


# Regions whose access is restricted to specific customer scenarios (in-country disaster
# recovery): a subscription deploys there only after Azure's region access request.
RESTRICTED_REGIONS_SOURCE = "MicrosoftDocs/reliability-docs articles/reliability/regions-list.md (ms.date 2025-09-23)"
RESTRICTED_REGIONS: frozenset[str] = frozenset(
    {
        "australiacentral2", "brazilsoutheast", "francesouth", "germanynorth", "norwaywest", "southafricawest",
        "switzerlandwest", "uaecentral",
    }
)  # fmt: skip

# The public Azure regions by the name ARM takes (`az account list-locations`), as published on
# 2026-05-24 (gist ausfestivus/04e55c7d80229069bf3bc75870630ec8, "az account list-locations -o
# table") and by northflank.com/cloud/azure/regions; logical and EUAP regions left out. Whether
# a region offers each VM size a stack uses is not in any source at hand here: `az vm list-skus
# --location REGION --size SIZE` answers it, and the quota lines of the plan say what to ask for.
REGIONS_READ_ON = date(2026, 5, 24)
REGIONS_SOURCE = "infra/dated_facts.py REGIONS: az account list-locations, as published 2026-05-24"
REGIONS: frozenset[str] = frozenset(
    {
        "australiacentral", "australiacentral2", "australiaeast", "australiasoutheast", "austriaeast",
        "belgiumcentral", "brazilsouth", "brazilsoutheast", "canadacentral", "canadaeast", "centralindia",
        "centralus", "chilecentral", "eastasia", "eastus", "eastus2", "francecentral", "francesouth",
        "germanynorth", "germanywestcentral", "indonesiacentral", "israelcentral", "italynorth", "japaneast",
        "japanwest", "jioindiacentral", "jioindiawest", "koreacentral", "koreasouth", "malaysiawest",
        "mexicocentral", "newzealandnorth", "northcentralus", "northeurope", "norwayeast", "norwaywest",
        "polandcentral", "qatarcentral", "southafricanorth", "southafricawest", "southcentralus",
        "southeastasia", "southindia", "spaincentral", "swedencentral", "switzerlandnorth", "switzerlandwest",
        "uaecentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westindia", "westus",
        "westus2", "westus3",
    }
)  # fmt: skip
