"""An architecture picture of a plan: Mermaid text, and SVG/PNG through Graphviz.

Resources are grouped by team (a top-level component named `<team>-...`) and, inside,
by the component that made them; arrows run from what exists first to what needs it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from offline.graph import edges
from offline.recording import Recording, Registration


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    group: str  # "team <name>" or "shared"
    component: str  # the top-level component's label, or "" for a bare resource


def nodes(rec: Recording, teams: tuple[str, ...]) -> dict[str, Node]:
    top = {urn: _top_level(rec, reg) for urn, reg in rec.resources.items()}
    shown = [r for r in rec.resources.values() if r.custom and not r.type.startswith("random:")]
    result = {}
    for i, reg in enumerate(sorted(shown, key=lambda r: r.urn)):
        root = top[reg.urn]
        team = next((t for t in teams if root.name.startswith(f"{t}-")), None)
        component = "" if root.urn == reg.urn else f"{root.type.split(':')[-1]} {root.name}"
        label = f"{reg.type.split(':')[-1]}<br/>{reg.name}"
        result[reg.urn] = Node(f"n{i}", label, f"team {team}" if team else "shared", component)
    return result


def mermaid(rec: Recording, teams: tuple[str, ...]) -> str:
    shown = nodes(rec, teams)
    lines = ["flowchart LR"]
    for g, (group, components) in enumerate(sorted(_grouped(shown).items())):
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
    lines += [f"  {shown[a].id} --> {shown[b].id}" for a, b in _arrows(rec, shown)]
    return "\n".join(lines) + "\n"


def dot(rec: Recording, teams: tuple[str, ...]) -> str:
    shown = nodes(rec, teams)
    lines = [
        "digraph plan {",
        "  rankdir=LR; compound=true; fontname=Helvetica;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname=Helvetica, fontsize=10];',
    ]
    for g, (group, components) in enumerate(sorted(_grouped(shown).items())):
        lines.append(f'  subgraph cluster_g{g} {{ label="{group}"; style=dashed;')
        for c, (component, members) in enumerate(sorted(components.items())):
            if component:
                lines.append(f'    subgraph cluster_g{g}c{c} {{ label="{component}"; style="rounded";')
            lines += [f'    {n.id} [label="{n.label.replace("<br/>", chr(92) + "n")}"];' for n in members]
            if component:
                lines.append("    }")
        lines.append("  }")
    lines += [f"  {shown[a].id} -> {shown[b].id};" for a, b in _arrows(rec, shown)]
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


def _grouped(shown: dict[str, Node]) -> dict[str, dict[str, list[Node]]]:
    groups: dict[str, dict[str, list[Node]]] = defaultdict(lambda: defaultdict(list))
    for node in shown.values():
        groups[node.group][node.component].append(node)
    return groups


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
