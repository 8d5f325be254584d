"""The pool layout: a later `pulumi up` that changes the cluster goes through no node pool, and
what moves during a stack's life (a tag, a patch) reaches no pool or secret it need not.

Each case plans the dev stack twice under the mocks, as two `pulumi up`s would send it, and
compares what each resource was registered with: the engine diffs exactly these inputs.
"""

from __future__ import annotations

from typing import Any

from components.aks_cluster import upgrade_channel
from components.naming import stable_tags
from offline import recording

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
MAINTENANCE = "azure-native:containerservice:MaintenanceConfiguration"


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


def test_a_changed_tag_changes_tags_only_and_no_pool_nor_the_agents_secret() -> None:
    after, changes = second_up({"expiresAt": "2027-01-22T18:00:00Z"}, {"expiresAt": "2027-01-23T18:00:00Z"})
    assert after.one(CLUSTER).urn in changes
    assert {key for keys in changes.values() for key in keys} == {"tags"}, changes
    # A pool's or the PAT secret's tag change would be real work: an agent pool operation on every
    # node, or a new secret version that reruns every agent's bootstrap.
    untouched = [*after.of_type(POOL), *after.of_type("azure-native:keyvault:Secret")]
    assert len(untouched) >= 2
    assert not [r.urn for r in untouched if r.urn in changes]


def test_a_new_pinned_patch_goes_through_each_pool_and_never_through_the_cluster() -> None:
    after, changes = second_up({"kubernetesVersion": "1.36.2"}, {"kubernetesVersion": "1.36.3"})
    assert changes.pop(after.one(CLUSTER).urn) == {"kubernetesVersion"}
    pools = {p.urn for p in after.of_type(POOL)}
    assert pools and changes == {urn: {"orchestratorVersion"} for urn in pools}


def test_the_cluster_names_only_its_system_pool() -> None:
    # A cluster PUT may not add a pool (pulumi-azure-native#579): the Windows pools are never
    # inline, so a cluster update cannot introduce one.
    rec = recording.run("dev")
    profiles = rec.one(CLUSTER).plain("agentPoolProfiles")
    assert [(p["name"], p["mode"], p["osType"]) for p in profiles] == [("system", "System", "Linux")]
    assert "agentPoolProfiles" not in rec.one(CLUSTER).ignore_changes


def test_a_minor_version_follows_aks_patches_and_a_pinned_patch_does_not() -> None:
    assert upgrade_channel("1.36") == "patch"
    # With the channel on, AKS would move a pinned cluster past its pin, and the next `up` would
    # ask for a downgrade.
    assert upgrade_channel("1.36.2") == "none"


def test_upgrades_happen_only_in_the_configured_window() -> None:
    rec = recording.run("dev", overrides={"maintenanceWindow": "Monday 02:30"})
    windows = {m.plain("configName"): m.plain("maintenanceWindow") for m in rec.of_type(MAINTENANCE)}
    assert set(windows) == {"aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule"}
    for window in windows.values():
        assert window["schedule"]["weekly"] == {"dayOfWeek": "Monday", "intervalWeeks": 1}
        assert (window["startTime"], window["durationHours"], window["utcOffset"]) == ("02:30", 4, "+00:00")


def test_only_the_moving_tags_are_left_off() -> None:
    tags = {"stack": "dev", "team": "red", "expires-at": "2026-11-22T18:00:00Z"}
    assert stable_tags(tags) == {"stack": "dev", "team": "red"}
