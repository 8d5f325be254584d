"""The cost of a planned stack: per resource, per team and per stack; per hour, per session
and per month, with what auto-shutdown and Spot save. Unknown prices stay unknown."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from components.registry_purge import TASK_TIMEOUT_SECONDS, runs_per_day
from infra.stack_config import StackConfig
from offline.prices import HOURS_PER_MONTH, PriceTable, premium_tier, standard_ssd_tier
from offline.recording import Recording, Registration

DAYS_PER_MONTH = HOURS_PER_MONTH / 24
AKS_NODE_DISK = "disk/P10"  # AKS gives each node a 128 GiB Premium SSD OS disk by default
# Azure DevOps bills no project, repository, pool or service connection; it bills parallel jobs.
# A self-hosted pipeline run takes one self-hosted parallel job; an organization has one free,
# each more is $15 a month with unlimited minutes (learn.microsoft.com/azure/devops/pipelines/
# licensing/concurrent-jobs; azure.microsoft.com/pricing/details/devops/azure-devops-services/).
AZDO_POOL = "azuredevops:index/pool:Pool"
SELF_HOSTED_JOB_MONTHLY = 15.0
FREE_SELF_HOSTED_JOBS = 1
# An estimate of a purge run, billed by the second: the acr-cli container's start and a few
# hundred registry calls for a day's builds. The task's timeout caps a run at TASK_TIMEOUT_SECONDS.
PURGE_RUN_SECONDS = 60


@dataclass(frozen=True)
class CostLine:
    resource: str  # logical name
    team: str  # a team, or "shared"
    item: str
    meter: str
    quantity: float
    unit_hourly: float | None  # USD per hour of one unit; None when the table has no price
    monthly_hours: float = HOURS_PER_MONTH
    saving_monthly: dict[str, float] = field(default_factory=dict)  # reason -> USD a month
    bought_monthly: bool = False  # bought for a whole month: a session of any length costs the month
    capped: bool = False  # priced at its ceiling, not its price: it bills at most this

    @property
    def hourly(self) -> float | None:
        return None if self.unit_hourly is None else self.unit_hourly * self.quantity

    def session(self, hours: int) -> float | None:
        if self.hourly is None:
            return None
        return self.monthly if self.bought_monthly else self.hourly * hours

    @property
    def monthly(self) -> float | None:
        return None if self.hourly is None else self.hourly * self.monthly_hours


@dataclass(frozen=True)
class Totals:
    hourly: float
    session: float
    monthly: float
    unknown: int  # lines without a price: the totals are lower bounds
    capped: int = 0  # lines priced at their ceiling (Spot VMs without a Spot price)

    def show(self) -> str:
        """The figures: "at least" when some line has no price and none is at its ceiling. Lines
        at their ceiling are counted, not turned into a bound: the pools are priced at their node
        count, not at the autoscaler's maximum, and use-based charges are not estimated."""
        figures = f"${self.hourly:,.2f}/h, ${self.session:,.2f}/session, ${self.monthly:,.2f}/month"
        if self.capped:
            unpriced = f"{self.unknown} unpriced, " if self.unknown else ""
            figures += f" ({unpriced}{self.capped} Spot VM(s) at their ceiling)"
        return ("at least " if self.unknown and not self.capped else "") + figures


@dataclass
class CostReport:
    lines: list[CostLine]
    table: PriceTable
    session_hours: int
    teams: tuple[str, ...]

    def totals(self, team: str | None = None) -> Totals:
        chosen = [line for line in self.lines if team is None or line.team == team]
        known = [line for line in chosen if line.hourly is not None]
        hourly = sum(line.hourly or 0.0 for line in known)
        return Totals(
            hourly=hourly,
            session=sum(line.session(self.session_hours) or 0.0 for line in known),
            monthly=sum(line.monthly or 0.0 for line in known),
            unknown=len(chosen) - len(known),
            capped=sum(1 for line in known if line.capped),
        )

    def savings(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for line in self.lines:
            for reason, amount in line.saving_monthly.items():
                found[reason] = found.get(reason, 0.0) + amount
        return found

    def unknown(self) -> list[CostLine]:
        return [line for line in self.lines if line.unit_hourly is None]

    def capped(self) -> list[CostLine]:
        return [line for line in self.lines if line.capped]


def estimate(rec: Recording, cfg: StackConfig, table: PriceTable) -> CostReport:
    owner = _owners(rec, cfg.teams)
    lines = [line for reg in rec.resources.values() for line in _lines(reg, rec, cfg, table, owner[reg.urn])]
    lines += _load_balancer_rules(rec, table)
    lines += _parallel_jobs(rec)
    # Registration order follows the engine's scheduling; the report must not.
    lines.sort(key=lambda line: (line.team, line.resource, line.meter, line.item))
    return CostReport(lines, table, cfg.session_hours, cfg.teams)


def _owners(rec: Recording, teams: tuple[str, ...]) -> dict[str, str]:
    """Each resource's team, by the top-level component it belongs to (`<team>-...`)."""
    owners = {}
    for urn, reg in rec.resources.items():
        top = reg
        while top.parent in rec.resources:
            top = rec.resources[top.parent]
        owners[urn] = next((t for t in teams if top.name.startswith(f"{t}-")), "shared")
    return owners


def _lines(reg: Registration, rec: Recording, cfg: StackConfig, table: PriceTable, team: str) -> Iterator[CostLine]:
    """The lines of the resources that bill by the hour. Those that bill nothing (networks,
    role assignments) or only per use, such as the agents' Key Vault (Standard: a few cents per
    10,000 operations, and the agents read one secret at each bootstrap), have none."""
    kind = reg.type
    if kind == "azure-native:compute:VirtualMachine":
        yield from _vm(reg, rec, cfg, table, team)
    elif kind == "azure-native:containerservice:ManagedCluster":
        tier = reg.plain("sku.tier") or "Free"
        yield CostLine(reg.name, team, f"AKS control plane ({tier})", f"aks/{tier}", 1, table.get(f"aks/{tier}"))
        yield CostLine(reg.name, team, "cluster load balancer", "load-balancer", 1, table.get("load-balancer"))
        yield CostLine(reg.name, team, "cluster outbound address", "public-ip", 1, table.get("public-ip"))
        for pool in reg.plain("agentPoolProfiles") or []:
            yield from _nodes(reg.name, team, pool.get("vmSize", ""), "linux", float(pool.get("count", 1)), table)
    elif kind == "azure-native:containerservice:AgentPool":
        os_name = "windows" if reg.plain("osType") == "Windows" else "linux"
        yield from _nodes(reg.name, team, reg.plain("vmSize") or "", os_name, float(reg.plain("count") or 0), table)
    elif kind == "azure-native:containerregistry:Registry":
        sku = reg.plain("sku.name") or "Basic"
        yield CostLine(reg.name, team, f"container registry ({sku})", f"acr/{sku}", 1, table.get(f"acr/{sku}"))
    elif kind == "azure-native:containerregistry:Task":
        yield from _task(reg, team, table)
    elif kind == "azure-native:network:PublicIPAddress":
        yield CostLine(reg.name, team, "static public address", "public-ip", 1, table.get("public-ip"))
    elif kind == "azure-native:network:NatGateway":
        yield CostLine(reg.name, team, "NAT gateway (plus data processed)", "nat-gateway", 1, table.get("nat-gateway"))
    elif kind == "kubernetes:core/v1:Service" and reg.plain("spec.type") == "LoadBalancer":
        yield CostLine(reg.name, team, "service public address", "public-ip", 1, table.get("public-ip"))
    elif kind == AZDO_POOL:
        yield CostLine(
            reg.name,
            team,
            "Azure DevOps project, repositories, pool, connections, pipeline (free)",
            "azdo/objects",
            1,
            0.0,
        )
    elif kind == "kubernetes:core/v1:PersistentVolumeClaim":
        size = str(reg.plain("spec.resources.requests.storage") or "?")
        gib = int(size[:-2]) if size.endswith("Gi") and size[:-2].isdigit() else None
        meter = f"disk/{standard_ssd_tier(gib)}" if gib else "disk/standard-ssd"
        yield CostLine(
            reg.name, team, f"managed-csi volume ({size}, Standard SSD {meter[5:]})", meter, 1, table.get(meter)
        )


def _task(reg: Registration, team: str, table: PriceTable) -> Iterator[CostLine]:
    """An ACR task's runs: its timers' runs a day, each PURGE_RUN_SECONDS of its vCPUs."""
    runs = sum(runs_per_day(str(t.get("schedule"))) for t in reg.plain("trigger.timerTriggers") or [])
    cpus = int(reg.plain("agentConfiguration.cpu") or 2)
    vcpu_hours_an_hour = runs * PURGE_RUN_SECONDS * cpus / 3600 / 24
    yield CostLine(
        reg.name,
        team,
        f"registry purge task ({runs:g} runs a day, about {PURGE_RUN_SECONDS} s of {cpus} vCPU each,"
        f" at most {TASK_TIMEOUT_SECONDS} s)",
        "acr/task-vcpu",
        vcpu_hours_an_hour,
        table.get("acr/task-vcpu"),
    )


def _nodes(name: str, team: str, size: str, os_name: str, count: float, table: PriceTable) -> Iterator[CostLine]:
    meter = f"vm/{size}/{os_name}"
    yield CostLine(name, team, f"{count:g} {os_name} node(s) {size}", meter, count, table.get(meter))
    yield CostLine(name, team, f"{count:g} node OS disk(s) P10", AKS_NODE_DISK, count, table.get(AKS_NODE_DISK))


def _vm(reg: Registration, rec: Recording, cfg: StackConfig, table: PriceTable, team: str) -> Iterator[CostLine]:
    size = reg.plain("hardwareProfile.vmSize") or ""
    windows = (reg.plain("storageProfile.imageReference.publisher") or "").startswith("MicrosoftWindows")
    spot = reg.plain("priority") == "Spot"
    on_demand = f"vm/{size}/{'windows' if windows else 'linux'}"
    meter = on_demand + ("/spot" if spot else "")
    price, full_price = table.get(meter), table.get(on_demand)
    ceiling = _spot_ceiling(reg, full_price) if spot and price is None else None
    capped = ceiling is not None
    price = ceiling if capped else price
    shuts_down = any(
        s.plain("targetResourceId") == reg.state.get("id") and s.plain("status") == "Enabled"
        for s in rec.of_type("azure-native:devtestlab:GlobalSchedule")
    )
    hours = min(HOURS_PER_MONTH, DAYS_PER_MONTH * cfg.agents.daily_hours) if shuts_down else HOURS_PER_MONTH
    savings = {}
    if price is not None and shuts_down:
        savings["auto-shutdown"] = price * (HOURS_PER_MONTH - hours)
    if spot and not capped and price is not None and full_price is not None:
        savings["Spot"] = (full_price - price) * hours
    kind = f"{'Windows' if windows else 'Linux'} VM {size}"
    label = f"{kind} (Spot{', at its ceiling: no Spot price in the table' if capped else ''})" if spot else kind
    yield CostLine(reg.name, team, label, meter, 1, price, hours, savings, capped=capped)
    disk_size = int(reg.plain("storageProfile.osDisk.diskSizeGB") or 128)
    tier = premium_tier(disk_size)
    yield CostLine(
        reg.name,
        team,
        f"OS disk {disk_size} GiB ({tier}, bills while stopped)",
        f"disk/{tier}",
        1,
        table.get(f"disk/{tier}"),
    )


def _spot_ceiling(reg: Registration, on_demand: float | None) -> float | None:
    """The most a Spot VM bills an hour: its maxPrice, where -1 (also the default) means "up to
    on-demand", and never more than the on-demand price (BillingProfile.maxPrice in the Compute
    API reference: "-1 indicates default price to be up-to on-demand")."""
    max_price = reg.plain("billingProfile.maxPrice")
    if max_price is None or float(max_price) < 0:
        return on_demand
    return float(max_price) if on_demand is None else min(float(max_price), on_demand)


def _load_balancer_rules(rec: Recording, table: PriceTable) -> list[CostLine]:
    """The cluster's load balancer includes five rules; each LoadBalancer Service adds one."""
    services = [s for s in rec.of_type("kubernetes:core/v1:Service") if s.plain("spec.type") == "LoadBalancer"]
    extra = max(0, len(services) + 1 - 5)  # +1: the cluster's outbound rule
    if not extra:
        return []
    return [
        CostLine(
            "aks",
            "shared",
            f"{extra} load-balancer rules past five",
            "load-balancer-rule",
            extra,
            table.get("load-balancer-rule"),
        )
    ]


def _parallel_jobs(rec: Recording) -> list[CostLine]:
    """Each team's pool runs its pipeline at the same time as the others': one self-hosted
    parallel job per team, the organization's first free."""
    pools = len(rec.of_type(AZDO_POOL))
    extra = max(0, pools - FREE_SELF_HOSTED_JOBS)
    if not pools:
        return []
    return [
        CostLine(
            "azdo",
            "shared",
            f"{extra} self-hosted parallel job(s) past the organization's free one (one per concurrent team pipeline)",
            "azdo/self-hosted-parallel-job",
            extra,
            SELF_HOSTED_JOB_MONTHLY / HOURS_PER_MONTH,
            bought_monthly=True,  # parallel jobs are bought by the month
        )
    ]
