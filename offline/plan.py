"""Building the offline plan: what `pulumi up` would create, without Azure, the CLI or a network.

`make_plan` runs the very program `pulumi up` runs (the project root's __main__.py, as the
language host runs it) under the engine's mocks with the values of Pulumi.yaml and
Pulumi.<STACK>.yaml, then gathers the whole-graph findings, the policies, the critical path,
the cost and the quota. `offline.render` turns a plan into text and JSON; `musicstore plan` is
the command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from infra import config, stack_files
from infra.dated_facts import READ_ON
from infra.stack_config import ConfigError, StackConfig
from offline import cost, expiry, graph, neighbours, prices, quota, recording
from offline.findings import Finding, check_graph, check_policies
from offline.prices import TABLE_DATE, TABLE_REGION


class PlanError(Exception):
    """Input the plan cannot work from; its message is one line."""


@dataclass
class Plan:
    stack: str
    project: str
    config: StackConfig
    config_values: dict[str, str]  # secrets already replaced by [secret]
    needed: list[str]  # required values not set (secrets, the promoted digest), planned with placeholders
    recording: recording.Recording
    findings: list[Finding]
    critical: graph.CriticalPath
    cost: cost.CostReport | None = None
    quotas: list[quota.Demand] = field(default_factory=list)
    references: dict[str, Plan] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def make_plan(
    stack: str,
    *,
    root: Path = stack_files.ROOT,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    price_table: prices.PriceTable | None = None,
    today: date | None = None,
    now: datetime | None = None,
    _chain: tuple[str, ...] = (),
) -> Plan:
    """Plan `stack`, and first every stack it references, whose outputs answer its
    StackReferences. The stack is judged against the dated facts at its `expiresAt`, else at
    `today`, which the caller gives (without it, the day the table was read); a past or imminent
    `expiresAt` is judged at `now` (without it, the start of that day, UTC).
    Raises ConfigError, StackFileError or PlanError on bad input."""
    if stack in _chain:
        raise PlanError(f"stack references form a cycle: {' -> '.join((*_chain, stack))}")
    started = time.perf_counter()
    files = config.offline_files(stack, root, overrides=overrides, secret_overrides=secret_overrides)
    cfg = config.from_files(files, stack)
    # As `pulumi up` does: a past expiresAt stops the plan before anything is registered.
    moment = now or datetime.combine(today or READ_ON, datetime.min.time(), UTC)
    warning = cfg.expiry_warning(moment)
    session = [Finding("warning", "expires-within-session", "stack", warning)] if warning else []
    if cfg.devops and not cfg.devops.toolkit_source_url:
        session.append(
            Finding(
                "warning",
                "toolkit-not-imported",
                "stack",
                "toolkitSourceUrl is empty: each team's musicstore-toolkit starts empty, and its pipeline runs"
                " only once the organizer pushes the toolkit (with azure-pipelines.yml) into it",
            )
        )

    references = {}
    if cfg.promote_from_stack:
        source = cfg.promote_from_stack.split("/")[-1]
        if source in _chain:
            cycle = " -> ".join((*_chain, stack, source))
            raise ConfigError("promoteFromStack", cfg.promote_from_stack, f"stack references form a cycle: {cycle}")
        if source not in stack_files.stacks(root):
            raise ConfigError("promoteFromStack", cfg.promote_from_stack, f"names no stack here (Pulumi.{source}.yaml)")
        references[source] = make_plan(
            source,
            root=root,
            progress=progress,
            price_table=price_table,
            today=today,
            now=now,
            _chain=(*_chain, stack),
        )

    def outputs_of(name: str) -> dict[str, Any]:
        short = name.split("/")[-1]
        if short not in references:
            raise PlanError(f"stack reference {name} was not planned")
        return references[short].recording.stack_outputs

    rec = recording.run(
        stack,
        root=root,
        files=files,
        stack_outputs=outputs_of,
        on_register=(lambda n: progress(stack, n)) if progress else None,
        now=moment,
    )
    shown = {k: ("[secret]" if k in files.secret_keys else v) for k, v in sorted(files.values.items())}
    demand, _ = quota.demands(rec, cfg)
    table = price_table or prices.built_in()
    costs = cost.estimate(rec, cfg, table)
    borrowed = sorted({line.meter for line in costs.lines if line.meter in table.borrowed})
    if table.region == cfg.location and borrowed:
        session.append(
            Finding(
                "warning",
                "prices-of-another-region",
                "stack",
                f"the {cfg.location} table of {table.date} lacks {', '.join(borrowed)}: those are priced at"
                f" {TABLE_REGION} list prices of {TABLE_DATE}",
            )
        )
    if table.region != cfg.location:
        session.append(
            Finding(
                "warning",
                "prices-of-another-region",
                "stack",
                f"the cost uses {table.region or 'unnamed'} prices of {table.date} ({table.source}), not"
                f" {cfg.location}'s, which differ: musicstore prices refresh --region {cfg.location}"
                " --out prices.json, then plan with --prices prices.json",
            )
        )
    return Plan(
        stack=stack,
        project=files.project,
        config=cfg,
        config_values=shown,
        needed=sorted(files.placeholders),
        recording=rec,
        findings=sorted(
            check_graph(rec)
            + check_policies(rec)
            + quota.check(rec, cfg)
            + expiry.judge(cfg, today or READ_ON)
            + neighbours.check(stack, cfg, root)
            + session,
            key=lambda f: (f.severity, f.rule, f.resource, f.message),
        ),
        critical=graph.plan_critical_path(rec),
        cost=costs,
        quotas=demand,
        references=references,
        seconds=time.perf_counter() - started,
    )


def referenced_outputs(
    cfg: StackConfig, *, root: Path = stack_files.ROOT, now: datetime | None = None
) -> Callable[[str], Mapping[str, Any]] | None:
    """What answers the StackReference of a stack that promotes from another (its offline plan's
    outputs, as make_plan reads them); None for a stack that references none."""
    if not cfg.promote_from_stack:
        return None
    source = cfg.promote_from_stack.split("/")[-1]
    if source not in stack_files.stacks(root):
        raise ConfigError("promoteFromStack", cfg.promote_from_stack, f"names no stack here (Pulumi.{source}.yaml)")
    planned = make_plan(source, root=root, now=now)

    def outputs_of(name: str) -> Mapping[str, Any]:
        if name.split("/")[-1] != source:
            raise PlanError(f"stack reference {name} was not planned")
        return planned.recording.stack_outputs

    return outputs_of
