"""Which network security rules admit remote administration (RDP, WinRM, SSH), and from where."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

REMOTE_ADMIN_PORTS = (22, 3389, 5985, 5986)


def admits_remote_admin(rule: Mapping[str, object], *, allowed: tuple[str, ...]) -> bool:
    """True when an inbound Allow rule opens a remote-administration port to a source that
    is not inside one of the `allowed` ranges."""
    if rule.get("access") != "Allow" or rule.get("direction") != "Inbound":
        return False
    if not any(_covers(p, port) for p in _ports(rule) for port in REMOTE_ADMIN_PORTS):
        return False
    return any(not _inside(source, allowed) for source in _sources(rule))


def _ports(rule: Mapping[str, object]) -> list[str]:
    ranges = rule.get("destinationPortRanges") or []
    single = rule.get("destinationPortRange")
    return [str(p) for p in [*list(ranges), *([single] if single else [])]]  # type: ignore[call-overload]


def _sources(rule: Mapping[str, object]) -> list[str]:
    many = rule.get("sourceAddressPrefixes") or []
    single = rule.get("sourceAddressPrefix")
    return [str(s) for s in [*list(many), *([single] if single else [])]] or ["*"]  # type: ignore[call-overload]


def _covers(port_range: str, port: int) -> bool:
    if port_range == "*":
        return True
    low, _, high = port_range.partition("-")
    return int(low) <= port <= int(high or low)


def _inside(source: str, allowed: tuple[str, ...]) -> bool:
    try:
        net = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False  # "*", "Internet", service tags: wider than any configured range
    return any(net.subnet_of(ipaddress.ip_network(a)) for a in allowed if net.version == 4)  # type: ignore[arg-type]
