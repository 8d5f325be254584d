"""The registries' purge: its filter and decision as plain functions, the ACR task each stack's
plan registers (schedule, filter, price), prod kept out unless its own setting lets it in, and the
digest an app runs pinned so that the purge spares it."""

from __future__ import annotations

import base64

import pytest
import yaml

from components.container_registry import (
    PROD_PURGE_TAG,
    PURGE_TASK_NAME,
    ContainerRegistry,
    ContainerRegistryArgs,
    PurgeArgs,
)
from components.registry_purge import (
    PurgeRule,
    cron_sets,
    encoded_task,
    is_build_tag,
    pin_tag,
    runs_per_day,
    select,
    task_yaml,
)
from offline import recording
from offline.plan import Plan, make_plan
from offline.render import render
from tests.conftest import Recorder

TASK = "azure-native:containerregistry:Task"
RULE = PurgeRule(repository="mvcmusicstore", keep=10)
DIGEST = "sha256:" + "ab" * 32


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.mark.parametrize("tag", ["1", "1042", "20261121"])
def test_a_build_id_is_what_the_filter_matches(tag: str) -> None:
    assert is_build_tag(tag)


@pytest.mark.parametrize(
    "tag", ["1.0.1042", "1.5.0-rc.1", "develop", "main", "latest", pin_tag(DIGEST), "feature-1042", "1042-fix", "v7"]
)
def test_versions_branches_latest_and_pins_never_match(tag: str) -> None:
    assert not is_build_tag(tag)


def test_the_task_runs_one_acr_purge_of_build_ids_and_untagged_manifests() -> None:
    task = yaml.safe_load(base64.b64decode(encoded_task(RULE)).decode())
    assert task == yaml.safe_load(task_yaml(RULE))
    [step] = task["steps"]
    assert step["cmd"] == "acr purge --filter 'mvcmusicstore:^[0-9]+$' --ago 0d --keep 10 --untagged"
    assert "--include-locked" not in step["cmd"]  # a locked image stays locked
    assert PurgeRule(repository="apps/music.store", keep=3).filter == r"apps/music\.store:^[0-9]+$"


def test_the_newest_build_ids_stay_and_older_ones_go_with_their_manifests() -> None:
    tags = [(str(n), digest(n)) for n in range(50, 0, -1)]  # newest first
    chosen = select(tags, [d for _, d in tags], RULE)
    assert sorted(chosen.tags, key=int) == [str(n) for n in range(1, 41)]
    assert set(chosen.manifests) == {digest(n) for n in range(1, 41)}


def test_a_manifest_with_another_tag_stays_without_its_build_id() -> None:
    tags = [("12", digest(12)), ("11", digest(11)), ("1.0.11", digest(11)), ("develop", digest(12))]
    tags += [("10", digest(10)), (pin_tag(digest(9)), digest(9)), ("9", digest(9))]
    chosen = select(tags, [digest(n) for n in (9, 10, 11, 12)], PurgeRule(repository="r", keep=1))
    assert chosen.tags == {"11": digest(11), "10": digest(10), "9": digest(9)}
    assert chosen.manifests == (digest(10),)  # 11 keeps its version, 9 its pin


def test_locked_images_are_skipped_and_not_counted_among_those_kept() -> None:
    tags = [("3", digest(3)), ("2", digest(2)), ("1", digest(1))]
    chosen = select(tags, [digest(n) for n in (1, 2, 3)], PurgeRule(repository="r", keep=1), locked={digest(3)})
    assert chosen.tags == {"1": digest(1)} and chosen.manifests == (digest(1),)


def test_an_untagged_child_of_a_tagged_index_stays() -> None:
    chosen = select([("1.0.0", digest(1))], [digest(1), digest(2), digest(3)], RULE, listed_by_index={digest(2)})
    assert chosen.manifests == (digest(3),)


def test_without_untagged_only_tags_go() -> None:
    tags = [(str(n), digest(n)) for n in range(3, 0, -1)]
    chosen = select(tags, [d for _, d in tags], PurgeRule(repository="r", keep=1, untagged=False))
    assert chosen.tags == {"2": digest(2), "1": digest(1)} and chosen.manifests == ()


def test_a_pin_is_refused_for_what_is_not_a_digest() -> None:
    assert pin_tag(DIGEST) == "pinned-" + "ab" * 32
    with pytest.raises(ValueError, match="not a sha256 digest"):
        pin_tag("develop")


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        ("0 */6 * * *", 4),
        ("0 3 * * *", 1),
        ("*/15 8-17 * * 1-5", 40 * 5 / 7),
        ("5/30 * * * *", 48),
        ("0 0 * * 0,7", 1 / 7),
    ],
)
def test_a_cron_runs_as_often_as_it_says(schedule: str, runs: float) -> None:
    assert runs_per_day(schedule) == pytest.approx(runs)


@pytest.mark.parametrize("schedule", ["hourly", "0 0 * *", "60 * * * *", "0 0 0 * *", "5-1 * * * *", "*/0 * * * *"])
def test_what_is_no_cron_is_refused(schedule: str) -> None:
    assert cron_sets(schedule) is None


def tasks(plan: Plan) -> list[recording.Registration]:
    return plan.recording.of_type(TASK)


def test_dev_purges_its_registry_on_a_schedule_with_the_build_id_filter(stack_plans: dict[str, Plan]) -> None:
    dev = stack_plans["dev"]
    [task] = tasks(dev)
    [registry] = dev.recording.of_type("azure-native:containerregistry:Registry")
    assert task.parent == registry.parent  # a child of the team's ContainerRegistry
    assert task.plain("registryName") == registry.plain("registryName")
    assert task.plain("trigger.timerTriggers") == [{"name": "schedule", "schedule": "0 */6 * * *", "status": "Enabled"}]
    assert task.plain("platform") == {"os": "Linux", "architecture": "amd64"}
    line = next(line for line in render(dev).splitlines() if "team1-registry-purge" in line)
    assert "schedule=0 */6 * * *" in line and "--filter 'mvcmusicstore:^[0-9]+$'" in line and "--keep 10" in line


def test_the_venue_purges_each_teams_registry(stack_plans: dict[str, Plan]) -> None:
    venue = stack_plans["venue-ams"]
    assert len(tasks(venue)) == len(venue.config.teams) == 30
    assert {t.plain("registryName") for t in tasks(venue)} == {
        r.plain("registryName") for r in venue.recording.of_type("azure-native:containerregistry:Registry")
    }


def test_the_plan_prices_each_purge(stack_plans: dict[str, Plan]) -> None:
    report = stack_plans["venue-ams"].cost
    assert report is not None
    purges = [line for line in report.lines if line.meter == "acr/task-vcpu"]
    assert len(purges) == 30 and all(line.hourly == pytest.approx(4 * 60 * 2 * 0.0001 / 24) for line in purges)
    assert purges[0].item.startswith("registry purge task (4 runs a day, about 60 s of 2 vCPU each")


def test_prod_is_never_purged_without_its_own_setting(stack_plans: dict[str, Plan]) -> None:
    assert tasks(stack_plans["prod"]) == []
    allowed = make_plan("prod", overrides={"registryPurgeProd": "true"})
    [task] = tasks(allowed)
    assert task.plain("tags")[PROD_PURGE_TAG] == "registryPurgeProd"
    assert [t for t in tasks(stack_plans["dev"]) if PROD_PURGE_TAG in t.plain("tags")] == []


def test_a_stack_that_promotes_is_prod_for_the_purge() -> None:
    staging = make_plan("prod", overrides={"environment": "stage"})
    assert tasks(staging) == []


def test_a_digest_the_app_runs_is_pinned_in_its_registry() -> None:
    pinned = recording.run("dev", overrides={"appImageDigest": DIGEST})
    [pin] = [r for r in pinned.resources.values() if r.name == "team1-pin"]
    assert pin.plain("tag") == pin_tag(DIGEST) and pin.plain("digest") == DIGEST
    assert pin.plain("sourceServer") == pin.plain("targetServer")
    [deployment] = [d for d in pinned.of_type("kubernetes:apps/v1:Deployment") if d.name == "team1-app"]
    image = deployment.plain("spec.template.spec.containers")[0]["image"]
    assert image.endswith(f"/mvcmusicstore@{DIGEST}")
    unpurged = recording.run("dev", overrides={"appImageDigest": DIGEST, "registryPurge": "false"})
    assert [r for r in unpurged.resources.values() if r.name == "team1-pin"] == []


def _registry(purge: PurgeArgs | None) -> None:
    ContainerRegistry(
        "red-registry",
        ContainerRegistryArgs(
            resource_group_name="rg",
            location="westeurope",
            name_prefix="gdbc",
            environment="dev",
            team="red",
            tags={"environment": "dev", "team": "red", "expires-at": "never"},
            purge=purge,
        ),
    )


def test_a_registry_without_purge_args_has_no_task(recorder: Recorder) -> None:
    assert recorder(lambda: _registry(None)).of_type(TASK) == []


def test_a_registrys_purge_runs_its_rule_on_its_schedule(recorder: Recorder) -> None:
    rec = recorder(lambda: _registry(PurgeArgs(rule=PurgeRule(repository="shop", keep=3), schedule="0 2 * * *")))
    [task] = rec.of_type(TASK)
    [registry] = rec.of_type("azure-native:containerregistry:Registry")
    assert task.plain("registryName") == registry.plain("registryName") and task.plain("taskName") == PURGE_TASK_NAME
    assert task.plain("step.encodedTaskContent") == encoded_task(PurgeRule(repository="shop", keep=3))
    assert task.plain("trigger.timerTriggers.0.schedule") == "0 2 * * *"
    assert task.plain("tags") == {"environment": "dev", "team": "red", "expires-at": "never"}
