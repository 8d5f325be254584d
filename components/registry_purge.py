"""What the registries' scheduled purge deletes: the ACR task's command, and the same decision as
plain functions the tests run against a real registry.

Every build pushes its build id (digits only, Azure DevOps' Build.BuildId), the branch tag and,
for a release, the version (components.naming.image_tags). The purge's filter matches the build
ids alone, so a version, a branch, `latest` or a pin (`pinned-<digest>`, below) never matches:
of the build ids, the newest `keep` stay and the older ones are removed; then every manifest left
without a tag goes (`--untagged`), unless it is locked or a tagged image index lists it. A
manifest that still carries any other tag stays, whatever its build id.

The command is acr-cli's (github.com/Azure/acr-cli, cmd/acr/purge.go): `--filter
'<repository>:<tag regex>'` (the regex is searched in the tag, Go RE2 syntax), `--ago` (only
tags and untagged manifests last updated before it; `0d`: any age), `--keep N` (of the matching
tags, newest first by last update: `getTagsToDelete` lists them `timedesc` and skips the first N
that are deletable), `--untagged` (then `purgeDanglingManifests`). Locked tags and manifests
(`deleteEnabled` or `writeEnabled` false, `az acr repository update --delete-enabled false`) are
skipped unless `--include-locked`, which the project never passes
(cmd/repository/image_functions.go, GetUntaggedManifests). acr purge cannot exclude a digest:
what must stay must carry a tag outside the filter, or be locked.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Azure DevOps' Build.BuildId: a whole number. The only tags the purge may remove.
BUILD_TAG_PATTERN = "^[0-9]+$"
BUILD_TAG = re.compile(BUILD_TAG_PATTERN)
# The tag that pins a digest the stack's app runs by digest: outside the filter, so kept.
PIN_PREFIX = "pinned-"
TASK_TIMEOUT_SECONDS = 600  # a purge of a few hundred tags takes seconds; past this the run stops
# The five-field cron of ACR Tasks' timer triggers, in UTC (learn.microsoft.com/azure/
# container-registry/container-registry-tasks-scheduled: "minute hour day-of-month month
# day-of-week", no seconds), here with digits, `*`, ranges, steps and lists.
CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # day-of-week 0 and 7: Sunday
CRON_PART = re.compile(r"^(\*|(\d{1,2})(-(\d{1,2}))?)(/(\d{1,2}))?$")
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True, kw_only=True)
class PurgeRule:
    """One repository's purge: its build ids beyond the newest `keep`, then untagged manifests."""

    repository: str
    keep: int
    untagged: bool = True

    @property
    def filter(self) -> str:
        # A repository name's only regex character is the dot (infra/config_sections.py REPOSITORY).
        repository = self.repository.replace(".", r"\.")
        return f"{repository}:{BUILD_TAG_PATTERN}"

    def command(self) -> str:
        flags = f"--filter '{self.filter}' --ago 0d --keep {self.keep}" + (" --untagged" if self.untagged else "")
        return f"acr purge {flags}"


def task_yaml(rule: PurgeRule) -> str:
    """The task's one step, as `az acr task create --cmd` writes it (an EncodedTask; the purge
    tasks of dotnet/aspire's AzureContainerRegistryTests snapshots and of azurerm's examples have
    the same shape). `acr` is ACR Tasks' alias of acr-cli's image (mcr.microsoft.com/acr/acr-cli,
    learn.microsoft.com/azure/container-registry/container-registry-auto-purge), which
    authenticates with the registry the task runs in. The command is a JSON string, which is a
    YAML double-quoted scalar: its quotes, `$` and `^` reach acr-cli as written."""
    return (
        "version: v1.1.0\n"
        "steps:\n"
        f"  - cmd: {json.dumps(rule.command())}\n"
        "    disableWorkingDirectoryOverride: true\n"
        f"    timeout: {TASK_TIMEOUT_SECONDS}\n"
    )


def encoded_task(rule: PurgeRule) -> str:
    return base64.b64encode(task_yaml(rule).encode()).decode()


def pin_tag(digest: str) -> str:
    """`pinned-<hex>` of `sha256:<hex>`: a tag the purge never matches, on a digest the app runs."""
    algorithm, _, hexdigits = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[a-f0-9]{64}", hexdigits):
        raise ValueError(f"{digest!r} is not a sha256 digest")
    return f"{PIN_PREFIX}{hexdigits}"


def cron_sets(schedule: str) -> tuple[frozenset[int], ...] | None:
    """The minutes, hours, days of the month, months and weekdays a cron names; None when it is
    not one."""
    fields = schedule.split(" ")
    if len(fields) != len(CRON_BOUNDS):
        return None
    sets = []
    for field, (low, high) in zip(fields, CRON_BOUNDS, strict=True):
        found: set[int] = set()
        for part in field.split(","):
            match = CRON_PART.fullmatch(part)
            if match is None:
                return None
            first = low if match[1] == "*" else int(match[2])
            # `5/15` runs from 5 to the field's end, every 15.
            last = high if match[1] == "*" or (match[6] and not match[4]) else int(match[4] or match[2])
            step = int(match[6] or 1)
            if not low <= first <= last <= high or step == 0:
                return None
            found.update(range(first, last + 1, step))
        sets.append(frozenset(found))
    weekdays = frozenset(d % 7 for d in sets[4])
    return (*sets[:4], weekdays)


def runs_per_day(schedule: str) -> float:
    """How often a cron fires a day, on average over a year (cron runs on a day when its
    day-of-month or its day-of-week matches, if both are restricted)."""
    sets = cron_sets(schedule)
    if sets is None:
        raise ValueError(f"{schedule!r} is not a five-field cron")
    minutes, hours, days, months, weekdays = sets
    fields = schedule.split(" ")
    by_month = min(1.0, len(days) / DAYS_PER_MONTH)
    by_week = len(weekdays) / 7
    if fields[2] == "*" and fields[4] == "*":
        share = 1.0
    elif fields[4] == "*":
        share = by_month
    elif fields[2] == "*":
        share = by_week
    else:
        share = 1 - (1 - by_month) * (1 - by_week)
    return len(minutes) * len(hours) * share * len(months) / 12


def is_build_tag(tag: str) -> bool:
    return BUILD_TAG.search(tag) is not None


@dataclass(frozen=True)
class Selection:
    """What one purge removes: tags (name -> digest), then whole manifests (digests)."""

    tags: dict[str, str]
    manifests: tuple[str, ...]

    def survivors(self, tags: Mapping[str, str]) -> dict[str, str]:
        return {t: d for t, d in tags.items() if t not in self.tags and d not in self.manifests}


def select(
    tags_newest_first: Sequence[tuple[str, str]],
    manifests: Iterable[str],
    rule: PurgeRule,
    *,
    locked: frozenset[str] = frozenset(),
    listed_by_index: frozenset[str] = frozenset(),
) -> Selection:
    """acr purge's decision on one repository, with `--ago 0d`: `tags_newest_first` are its
    (tag, digest) pairs, newest first (acr-cli lists them by last update, descending);
    `manifests` every digest it holds; `locked` the digests whose deleteEnabled or writeEnabled is
    false (their tags too are skipped, and not counted in `keep`); `listed_by_index` the children
    of the tagged image indexes that stay."""
    deletable = [(t, d) for t, d in tags_newest_first if is_build_tag(t) and d not in locked]
    doomed = dict(deletable[rule.keep :])
    if not rule.untagged:
        return Selection(doomed, ())
    tagged = {d for t, d in tags_newest_first if t not in doomed}
    untagged = tuple(
        d for d in dict.fromkeys(manifests) if d not in tagged and d not in locked and d not in listed_by_index
    )
    return Selection(doomed, untagged)
