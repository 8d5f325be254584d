"""The pool layout: a later `pulumi up` that changes the cluster goes through no node pool.

Each case plans the dev stack twice under the mocks, as two `pulumi up`s would send it, and
compares what each resource was registered with: the engine diffs exactly these inputs.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.aks_cluster import minor_version, pool_tags, upgrade_channel
from offline import recording

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"


def changed_keys(before: recording.Recording, after: recording.Recording) -> dict[str, set[str]]:
    """urn -> the top-level inputs that differ between the two runs (secrets masked)."""
    changes: dict[str, set[str]] = {}
    for urn, reg in after.resources.items():
        previous = before.resources.get(urn)
        if previous is None:
            changes[urn] = {"<created>"}
            continue
        a: dict[str, Any] = previous.masked_inputs()
        b: dict[str, Any] = reg.masked_inputs()
        keys = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        if keys:
            changes[urn] = keys
    return changes


def second_up(first: dict[str, str], second: dict[str, str]) -> tuple[recording.Recording, dict[str, set[str]]]:
    before = recording.run("dev", overrides=first)
    after = recording.run("dev", overrides=second)
    return after, changed_keys(before, after)


@pytest.mark.parametrize(
    ("first", "second", "cluster_keys"),
    [
        pytest.param(
            {"expiresAt": "2026-11-22T18:00:00Z"}, {"expiresAt": "2026-11-23T18:00:00Z"}, {"tags"}, id="a changed tag"
        ),
        pytest.param(
            {"kubernetesVersion": "1.36.2"}, {"kubernetesVersion": "1.36.3"}, {"kubernetesVersion"}, id="a new patch"
        ),
    ],
)
def test_a_second_up_changes_the_cluster_and_no_pool(
    first: dict[str, str], second: dict[str, str], cluster_keys: set[str]
) -> None:
    after, changes = second_up(first, second)
    cluster = after.one(CLUSTER)
    assert changes.get(cluster.urn) == cluster_keys
    pools = [p.urn for p in after.of_type(POOL)]
    assert pools, "the dev stack has Windows pools"
    assert not [urn for urn in pools if urn in changes], changes


def test_the_cluster_names_only_its_system_pool() -> None:
    # A cluster PUT may not add a pool (pulumi-azure-native#579): the Windows pools are never
    # inline, so a cluster update cannot introduce one.
    rec = recording.run("dev")
    profiles = rec.one(CLUSTER).plain("agentPoolProfiles")
    assert [(p["name"], p["mode"], p["osType"]) for p in profiles] == [("system", "System", "Linux")]
    assert "agentPoolProfiles" not in rec.one(CLUSTER).ignore_changes


def test_pools_ask_for_the_minor_version_and_patches_come_from_the_channel() -> None:
    assert minor_version("1.36.2") == "1.36" == minor_version("1.36")
    assert upgrade_channel("1.36") == "patch"
    # A pinned patch with the channel on would be moved past the pin, and the next `up` would
    # ask AKS for a downgrade.
    assert upgrade_channel("1.36.2") == "none"


def test_pools_keep_the_tags_that_never_move() -> None:
    tags = {"stack": "dev", "team": "red", "expires-at": "2026-11-22T18:00:00Z"}
    assert pool_tags(tags) == {"stack": "dev", "team": "red"}
