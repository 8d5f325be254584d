"""Kubernetes annotations shared by the components."""

from __future__ import annotations


def checkov_skips(reasons: dict[str, str]) -> dict[str, str]:
    """checkov's skip annotations (checkov.io/skipN: CHECK=reason): each skipped check sits on
    the object it exempts, with its reason."""
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(sorted(reasons.items()), 1)}
