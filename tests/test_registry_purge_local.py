"""The registries' purge on a real registry (Debian's docker-registry with deletes enabled): a
day of 50 builds pushed as the pipeline tags them, purged with the project's filter and keep
(components.registry_purge, the same the ACR task runs), keeps every version, branch and latest,
the digest prod runs and the digest the app runs, and deletes the other build ids' images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from components.registry_purge import PurgeRule, pin_tag
from promotion.copy import copy_image
from tests.support.local_registry import LocalRegistry, registries_available
from tests.support.registry_purge import Day, Purged, purge, push_day

# The tests share one day pushed and purged (the `purged` fixture): on one xdist worker, once.
pytestmark = pytest.mark.xdist_group("registry-purge-local")

REPO = "mvcmusicstore"
KEEP = 10  # registryPurgeKeep's default


@dataclass(frozen=True)
class Purges:
    day: Day
    dev: Purged
    prod: Purged
    dev_registry: LocalRegistry
    prod_registry: LocalRegistry


@pytest.fixture(scope="module")
def purged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Purges]:
    if not registries_available():
        pytest.skip("scripts/bootstrap --system installs docker-registry")
    base = tmp_path_factory.mktemp("purge")
    dev = LocalRegistry("dev", base / "dev", deletable=True).start()
    prod = LocalRegistry("prod", base / "prod", deletable=True).start()
    try:
        day = push_day(dev.client(), REPO)
        # Prod runs the newest release, promoted by digest under its version.
        version, build = max(day.released.items(), key=lambda item: item[1])
        copy_image(dev.client(), prod.client(), REPO, day.builds[build], version)
        rule = PurgeRule(repository=REPO, keep=KEEP)
        yield Purges(day, purge(dev.client(), rule), purge(prod.client(), rule), dev, prod)
    finally:
        dev.stop()
        prod.stop()


def surviving_builds(purges: Purges) -> set[int]:
    kept = set(purges.dev.after.values())
    return {build for build, digest in purges.day.builds.items() if digest in kept}


def test_the_newest_build_ids_stay(purged: Purges) -> None:
    newest = sorted(purged.day.builds)[-KEEP:]
    assert {int(t) for t in purged.dev.after if t.isdigit()} >= set(newest)
    assert set(newest) <= surviving_builds(purged)


def test_every_version_branch_and_latest_stays_on_its_image(purged: Purges) -> None:
    day, after = purged.day, purged.dev.after
    for version, build in day.released.items():
        assert after[version] == day.builds[build]
    assert after["latest"] == after["main"] == day.builds[day.main]
    assert after["develop"] == day.builds[day.develop]


def test_the_digest_the_app_runs_survives_by_its_pin(purged: Purges) -> None:
    digest = purged.day.builds[purged.day.running]
    assert purged.dev.after[pin_tag(digest)] == digest
    assert purged.dev_registry.client().manifest_digest(REPO, digest) == digest


def test_the_digest_prod_runs_survives_in_both_registries(purged: Purges) -> None:
    version, build = max(purged.day.released.items(), key=lambda item: item[1])
    digest = purged.day.builds[build]
    assert purged.dev_registry.client().manifest_digest(REPO, digest) == digest
    assert purged.prod.after == {version: digest} and purged.prod.selection.manifests == ()


def test_the_other_builds_images_are_deleted(purged: Purges) -> None:
    day = purged.day
    spared = {day.running, day.main, *day.released.values()}
    old = [b for b in sorted(day.builds)[:-KEEP] if b not in spared]
    assert len(old) == 50 - KEEP - 3
    client = purged.dev_registry.client()
    assert [b for b in old if client.manifest_digest(REPO, day.builds[b]) is not None] == []
    assert surviving_builds(purged) == set(sorted(day.builds)[-KEEP:]) | spared


def test_a_spared_images_build_id_is_chosen_but_stays_where_tags_cannot_go_alone(purged: Purges) -> None:
    """ACR deletes the build id of an image another tag holds; distribution 2.8 deletes no tag alone."""
    day = purged.day
    spared = sorted({day.running, day.main, *day.released.values()})
    assert sorted(int(t) for t in purged.dev.tags_left) == spared
    assert all(str(b) in purged.dev.selection.tags for b in spared)


def test_a_purge_of_a_purged_registry_deletes_nothing_more(purged: Purges) -> None:
    again = purge(purged.dev_registry.client(), PurgeRule(repository=REPO, keep=KEEP))
    assert again.selection.manifests == () and again.after == purged.dev.after
