"""An architecture picture of a plan: Mermaid text, and SVG/PNG through Graphviz.

Resources are grouped by team (a top-level component named `<team>-...`) and, inside,
by the component that made them; arrows run from what exists first to what needs it. A
stack of several teams is drawn collapsed: the shared resources once, the first team in
full, and every other team as one box "× N teams" (they are built alike), so a venue of 30
teams fits a screen and stays under Mermaid's limit of 500 edges (its `maxEdges` default).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from offline.graph import edges
from offline.recording import Recording, Registration

MERMAID_MAX_EDGES = 500  # mermaid's config `maxEdges` default (mermaid/src/config.type.ts)


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    group: str  # "team <name>", "× N teams" or "shared"
    component: str  # the top-level component's label, or "" for a bare resource


def nodes(rec: Recording, teams: tuple[str, ...]) -> dict[str, Node]:
    """The node each shown resource is drawn as; the resources of every team after the first
    share one node."""
    top = {urn: _top_level(rec, reg) for urn, reg in rec.resources.items()}
    shown = [r for r in rec.resources.values() if r.custom and not r.type.startswith("random:")]
    first, others = teams[:1], teams[1:]
    collapsed = Node("others", _others_label(first, others), f"× {len(others)} teams", "")
    result = {}
    for i, reg in enumerate(sorted(shown, key=lambda r: r.urn)):
        root = top[reg.urn]
        team = next((t for t in teams if root.name.startswith(f"{t}-")), None)
        # A shared component's resource for one team (the cluster's pull grant on its registry).
        named_for = next((t for t in teams if reg.name.endswith(f"-{t}")), None)
        if team in others or named_for in others:
            result[reg.urn] = collapsed
            continue
        component = "" if root.urn == reg.urn else f"{root.type.split(':')[-1]} {root.name}"
        # Inside its component a resource is named without the component's name.
        short = reg.name.removeprefix(f"{root.name}-") if component else reg.name
        label = f"{reg.type.split(':')[-1]}<br/>{short}"
        result[reg.urn] = Node(f"n{i}", label, f"team {team}" if team else "shared", component)
    return result


def _others_label(first: tuple[str, ...], others: tuple[str, ...]) -> str:
    if not others:
        return ""
    names = others[0] if len(others) == 1 else f"{others[0]} … {others[-1]}"
    return f"{names}<br/>each built as {first[0]}"


def mermaid(rec: Recording, teams: tuple[str, ...]) -> str:
    shown = nodes(rec, teams)
    lines = ["flowchart LR"]
    for g, (group, components) in enumerate(_grouped(shown, teams)):
        lines.append(f'  subgraph g{g}["{group}"]')
        for c, (component, members) in enumerate(sorted(components.items())):
            indent = "    "
            if component:
                lines.append(f'    subgraph g{g}c{c}["{component}"]')
                indent = "      "
            lines += [f'{indent}{n.id}["{n.label}"]' for n in members]
            if component:
                lines.append("    end")
        lines.append("  end")
    lines += [f"  {a} --> {b}" for a, b in _drawn_arrows(rec, shown)]
    return "\n".join(lines) + "\n"


def dot(rec: Recording, teams: tuple[str, ...]) -> str:
    shown = nodes(rec, teams)
    lines = [
        "digraph plan {",
        # size: at most 1600 x 2000 px at 96 dpi; a larger drawing is scaled down to fit.
        '  rankdir=LR; compound=true; fontname=Helvetica; dpi=96; size="16.6,20.8"; nodesep=0.15; ranksep=0.35;',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname=Helvetica, fontsize=10];',
    ]
    for g, (group, components) in enumerate(_grouped(shown, teams)):
        lines.append(f'  subgraph cluster_g{g} {{ label="{group}"; style=dashed;')
        for c, (component, members) in enumerate(sorted(components.items())):
            if component:
                lines.append(f'    subgraph cluster_g{g}c{c} {{ label="{component}"; style="rounded";')
            lines += [f'    {n.id} [label="{n.label.replace("<br/>", chr(92) + "n")}"];' for n in members]
            if component:
                lines.append("    }")
        lines.append("  }")
    lines += [f"  {a} -> {b};" for a, b in _drawn_arrows(rec, shown)]
    return "\n".join(lines) + "\n}\n"


def write(rec: Recording, teams: tuple[str, ...], directory: Path) -> list[Path]:
    """Write <stack>.mmd and <stack>.dot, and <stack>.svg/.png where Graphviz is installed."""
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / rec.stack
    written = [base.with_suffix(".mmd"), base.with_suffix(".dot")]
    written[0].write_text(mermaid(rec, teams), encoding="utf-8")
    written[1].write_text(dot(rec, teams), encoding="utf-8")
    if shutil.which("dot"):
        for fmt in ("svg", "png"):
            out = base.with_suffix(f".{fmt}")
            subprocess.run(["dot", f"-T{fmt}", str(written[1]), "-o", str(out)], check=True, timeout=120)
            written.append(out)
    return written


def _top_level(rec: Recording, reg: Registration) -> Registration:
    while reg.parent in rec.resources:
        reg = rec.resources[reg.parent]
    return reg


def _grouped(shown: dict[str, Node], teams: tuple[str, ...]) -> list[tuple[str, dict[str, list[Node]]]]:
    """Each group's nodes by component, each node once: shared first, then the teams in the
    stack's order, then the collapsed box."""
    groups: dict[str, dict[str, list[Node]]] = defaultdict(lambda: defaultdict(list))
    for node in dict.fromkeys(shown.values()):
        groups[node.group][node.component].append(node)
    order = ["shared"] + [f"team {t}" for t in teams]
    return sorted(groups.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def _drawn_arrows(rec: Recording, shown: dict[str, Node]) -> list[tuple[str, str]]:
    """The arrows between drawn nodes: each once, none from a node to itself."""
    drawn = {(shown[a].id, shown[b].id) for a, b in _arrows(rec, shown)}
    return sorted((a, b) for a, b in drawn if a != b)


def _arrows(rec: Recording, shown: dict[str, Node]) -> list[tuple[str, str]]:
    """Dependencies between the resources shown, less those a longer chain already implies
    (a transitive reduction): every resource needs the resource group, few arrows say so."""
    direct: dict[str, set[str]] = {urn: set() for urn in shown}
    for urn, befores in edges(rec).items():
        if urn in shown:
            direct[urn] = {b for b in befores if b in shown}
    reach: dict[str, set[str]] = {}

    def ancestors(urn: str) -> set[str]:
        if urn not in reach:
            reach[urn] = set()
            for before in direct[urn]:
                reach[urn] |= {before} | ancestors(before)
        return reach[urn]

    kept: list[tuple[str, str]] = []
    for urn, needs in direct.items():
        implied: set[str] = set().union(*(ancestors(b) for b in needs))
        kept += [(before, urn) for before in needs if before not in implied]
    return sorted(kept)
