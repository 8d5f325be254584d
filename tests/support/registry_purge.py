"""The registries' purge carried out over the registry API, on the tests' docker-registry servers:
the decision is the project's (components.registry_purge.select, with the filter the ACR task
runs); listing and deleting are what acr-cli does against ACR, in the distribution API's terms.

Two things the distribution API cannot tell or do, unlike ACR's: it lists no manifest without a
tag (the purge sees the manifests its tags reach) and gives no tag's last update (the build ids,
which grow with each build, order them instead: acr-cli's newest first). Distribution 2.8 deletes
no tag alone; deleting a manifest takes its tags with it, and a tag to delete whose manifest
stays is reported as left.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.naming import image_tags
from components.registry_purge import PurgeRule, Selection, is_build_tag, pin_tag, select
from promotion.copy import copy_image
from promotion.registry_client import RegistryClient
from tests.support.local_registry import layer, push_image


@dataclass(frozen=True)
class Purged:
    before: dict[str, str]  # tag -> digest
    selection: Selection
    tags_left: tuple[str, ...]  # to delete, but the registry deletes no tag alone
    after: dict[str, str]


def listing(client: RegistryClient, repository: str) -> dict[str, str]:
    """Every tag of the repository and its digest, the build ids newest first."""
    tags = sorted(client.tags(repository), key=lambda t: (not is_build_tag(t), -int(t) if is_build_tag(t) else 0, t))
    found = {}
    for tag in tags:
        digest = client.manifest_digest(repository, tag)
        if digest:
            found[tag] = digest
    return found


def purge(client: RegistryClient, rule: PurgeRule, *, locked: frozenset[str] = frozenset()) -> Purged:
    """One run of the purge on `rule.repository`; `locked`: digests the registry would not delete."""
    before = listing(client, rule.repository)
    chosen = select(list(before.items()), before.values(), rule, locked=locked)
    for digest in chosen.manifests:
        client.delete_manifest(rule.repository, digest)
    left = tuple(
        tag
        for tag, digest in chosen.tags.items()
        if digest not in chosen.manifests and not client.delete_tag(rule.repository, tag)
    )
    return Purged(before, chosen, left, listing(client, rule.repository))


@dataclass(frozen=True)
class Day:
    """What a team's pipeline pushed to its dev registry over a day, and what refers to it."""

    builds: dict[int, str]  # build id -> digest
    released: dict[str, int]  # version -> build id (the release stage's, and prod's promotion)
    main: int  # the build `main` and `latest` are on
    develop: int
    running: int  # the build the app runs by digest (appImageDigest), pinned


def push_day(
    client: RegistryClient,
    repository: str,
    *,
    builds: int = 50,
    first: int = 1001,
    base_size: int = 4096,
    app_size: int = 4096,
) -> Day:
    """`builds` builds as azure-pipelines.yml tags them (components.naming.image_tags): the build
    id and the branch on each (develop, every tenth main), the version on the two releases, latest
    on the newer; the app runs the fifth by digest, pinned as the program pins it (the promotion's
    registry copy, within the registry). Each image is a base layer they all share and one of
    its own, of these sizes in bytes."""
    ids = list(range(first, first + builds))
    mains = ids[9::10][:4]
    releases = mains[1::2]
    digests = {}
    for build in ids:
        digest = push_image(client, repository, [layer("base", base_size), layer(f"app-{build}", app_size)])
        body, media_type = client.get_manifest(repository, digest)
        release = build in releases
        version = f"1.0.{build}" if release else None
        tags = image_tags(
            build_id=str(build), branch="main" if build in mains else "develop", version=version, release=release
        )
        for tag in tags:
            client.put_manifest(repository, tag, body, media_type)
        digests[build] = digest
    running = ids[4]
    copy_image(client, client, repository, digests[running], pin_tag(digests[running]))
    return Day(digests, {f"1.0.{b}": b for b in releases}, mains[-1], ids[-1], running)
