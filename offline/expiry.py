"""A stack judged at its date against the dated table of what expires (infra/dated_facts.py).

The date is the event's (`expiresAt`), else the day the plan is made, which the caller gives:
nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from components.windows import APP_BASE_IMAGES
from infra import dated_facts as facts
from infra.stack_config import StackConfig
from offline.findings import Finding

WARN_WITHIN = timedelta(days=60)


def event_date(cfg: StackConfig, today: date) -> date:
    return cfg.expires_at.date() if cfg.expires_at else today


def judge(cfg: StackConfig, today: date) -> list[Finding]:
    on = event_date(cfg, today)
    return [
        *_kubernetes(cfg, on),
        *_region(cfg),
        *_vm_sizes(cfg),
        *_windows(cfg),
        *_base_images(cfg),
        *_freshness(on),
    ]


def _region(cfg: StackConfig) -> Iterator[Finding]:
    if cfg.location in facts.RESTRICTED_REGIONS:
        yield Finding(
            "warning",
            "region-restricted",
            "stack",
            f"location: {cfg.location} is an access-restricted region (in-country disaster recovery): a"
            " subscription deploys there only after Azure's region access request"
            f" ({facts.RESTRICTED_REGIONS_SOURCE})",
        )


def _kubernetes(cfg: StackConfig, on: date) -> Iterator[Finding]:
    minor = int(cfg.kubernetes_version.split(".")[1])
    known = facts.AKS_MINORS.get(minor)
    if known is None:
        yield Finding(
            "error",
            "kubernetes-version-unknown",
            "aks",
            f"Kubernetes 1.{minor} is not in the table of AKS versions read {facts.READ_ON}"
            f" ({', '.join(f'1.{m}' for m in sorted(facts.AKS_MINORS))}; {facts.AKS_VERSIONS_SOURCE})",
        )
        return
    ends = known.community_support_ends
    lts = cfg.cluster_sku_tier == "Premium" and cfg.cluster_support_plan == "AKSLongTermSupport"
    if on >= ends and not lts:
        yield Finding(
            "error",
            "kubernetes-version-expired",
            "aks",
            f"Kubernetes 1.{minor} left AKS community support on {ends}: on {on} AKS creates it only with"
            f" clusterSkuTier Premium and clusterSupportPlan AKSLongTermSupport; or set kubernetesVersion"
            f" {facts.DEFAULT_KUBERNETES_VERSION} ({facts.AKS_VERSIONS_SOURCE})",
        )
    elif on < ends <= on + WARN_WITHIN and not lts:
        yield Finding(
            "warning",
            "kubernetes-version-expiring",
            "aks",
            f"Kubernetes 1.{minor} leaves AKS community support on {ends}, {(ends - on).days} days after {on};"
            f" consider kubernetesVersion {facts.DEFAULT_KUBERNETES_VERSION}",
        )


def _vm_sizes(cfg: StackConfig) -> Iterator[Finding]:
    chosen = {
        "systemPoolVmSize": cfg.system_pool_vm_size,
        **{f"windowsPools.{p.name}.vmSize": p.vm_size for p in cfg.windows_pools},
        **({"agentVmSize": cfg.agents.vm_size} if cfg.agents.count else {}),
    }
    for key, size in chosen.items():
        restricted = facts.restriction(size)
        if restricted:
            yield Finding(
                "warning",
                "vm-family-restricted",
                key,
                f"{size} is a {restricted.family} size: since {restricted.new_subscriptions_refused_from} a new"
                f" subscription cannot deploy it and no quota is approved for it (retired {restricted.retires});"
                f" use {restricted.replacement} ({facts.VM_SOURCE})",
            )


def _windows(cfg: StackConfig) -> Iterator[Finding]:
    minor = int(cfg.kubernetes_version.split(".")[1])
    known = facts.AKS_MINORS.get(minor)
    for pool in cfg.windows_pools:
        if pool.os_sku not in facts.SDK_AKS_OS_SKUS:
            yield Finding(
                "error",
                "os-sku-not-in-api-version",
                f"windowsPools.{pool.name}",
                f"osSku {pool.os_sku}: the installed pulumi-azure-native sends AKS API {facts.SDK_AKS_API_VERSION},"
                f" whose OS SKUs are {', '.join(sorted(facts.SDK_AKS_OS_SKUS))}; AKS would answer InvalidOSSKU"
                f" ({facts.SDK_SOURCE})",
            )
        if known and pool.os_sku not in known.windows_os_skus:
            yield Finding(
                "error",
                "os-sku-not-on-kubernetes-version",
                f"windowsPools.{pool.name}",
                f"osSku {pool.os_sku} is not offered on Kubernetes 1.{minor} ({facts.AKS_VERSIONS_SOURCE})",
            )
        covered = facts.NETWORK_POLICY_WINDOWS.get(cfg.network_policy, frozenset())
        if pool.os_sku not in covered:
            yield Finding(
                "error",
                "network-policy-not-on-windows-release",
                f"windowsPools.{pool.name}",
                f"networkPolicy {cfg.network_policy} is documented for {', '.join(sorted(covered)) or 'no'}"
                f" Windows nodes, not {pool.os_sku} ({facts.POLICY_SOURCE})",
            )


def _base_images(cfg: StackConfig) -> Iterator[Finding]:
    release = cfg.app.windows_version
    for image in APP_BASE_IMAGES.get(release, ()):
        problem = base_image_problem(image)
        if problem:
            yield Finding("error", "base-image-unsupported", "app", problem)


def base_image_problem(image: str) -> str | None:
    """Why a .NET Framework base image tag is not supported, or None."""
    tag = image.rsplit(":", 1)[-1]
    release = tag.rsplit("-", 1)[-1]
    if tag in facts.SUPPORTED_BASE_TAGS.get(release, frozenset()):
        return None
    since = facts.UNSUPPORTED_BASE_TAGS.get(tag)
    supported = ", ".join(sorted(facts.SUPPORTED_BASE_TAGS.get(release, frozenset()))) or "none"
    when = f" since {since}" if since else ""
    return f"{image} is not a supported tag{when}; the supported tags of {release}: {supported} ({facts.IMAGE_SOURCE})"


def _freshness(on: date) -> Iterator[Finding]:
    age = (on - facts.READ_ON).days
    if age > facts.STALE_AFTER_DAYS:
        yield Finding(
            "warning",
            "dated-facts-stale",
            "stack",
            f"the table of what expires was read on {facts.READ_ON}, {age} days before {on}: re-read its sources"
            " (infra/dated_facts.py)",
        )
