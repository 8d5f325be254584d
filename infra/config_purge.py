"""Reading the registries' purge: whether each team's registry gets its scheduled ACR task, how
many build ids it keeps and when it runs. A prod stack's registries are purged only with their
own explicit setting, registryPurgeProd."""

from __future__ import annotations

from components.registry_purge import cron_sets, is_build_tag
from infra.config_sections import Reader, boolean
from infra.stack_config import PROD_ENVIRONMENTS, AppConfig, ConfigError, RegistryPurgeConfig

CRON_RULE = (
    "must be a five-field cron in UTC, minute hour day-of-month month day-of-week, such as '0 */6 * * *'"
    " (digits, *, ranges, steps and lists)"
)


def read_registry_purge(
    read: Reader, *, environment: str, promotes: bool, app: AppConfig
) -> RegistryPurgeConfig | None:
    """The purge every team's registry gets, or None. `promotes`: the stack promotes images from
    another, so its registries hold what prod runs, as a stack of environment prod does."""
    wanted, for_prod = boolean(read, "registryPurge"), boolean(read, "registryPurgeProd")
    keep = read.integer("registryPurgeKeep", 1, 1000)
    schedule = read.raw("registryPurgeSchedule")
    if cron_sets(schedule) is None:
        raise ConfigError("registryPurgeSchedule", schedule, CRON_RULE)
    prod = environment in PROD_ENVIRONMENTS or promotes
    if for_prod and not prod:
        raise ConfigError(
            "registryPurgeProd",
            True,
            "applies to a prod stack only (environment prod or production, or one with promoteFromStack);"
            " this stack's registries follow registryPurge",
        )
    if for_prod and not wanted:
        raise ConfigError("registryPurgeProd", True, "needs registryPurge true: it allows that purge on prod")
    if not wanted or (prod and not for_prod):
        return None
    if app.image_digest is None and is_build_tag(app.image_tag) and not promotes:
        raise ConfigError(
            "appImageTag",
            app.image_tag,
            f"is a build id, which the registry purge deletes once {keep} newer builds exist (registryPurgeKeep):"
            " deploy a branch, a version or appImageDigest (which is pinned and kept), or set registryPurge false",
        )
    return RegistryPurgeConfig(keep=keep, schedule=schedule, prod=prod)
