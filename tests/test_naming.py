"""The pure name and address helpers, against the limits in azure-facts.md."""

from __future__ import annotations

import ipaddress

import pytest

from components import naming


def test_registry_name_is_5_to_50_lowercase_letters_and_digits() -> None:
    assert naming.registry_name("gdbc", "dev", "team1", "abc123") == "gdbcdevteam1abc123"
    longest = naming.registry_name("a" * 8, "b" * 8, "c" * 40, "z" * 6)
    assert len(longest) == 50 and longest.endswith("zzzzzz")


def test_registry_name_drops_characters_acr_refuses() -> None:
    assert naming.registry_name("Gd-b", "Dev", "team_1", "x1y2z3") == "gdbdevteam1x1y2z3"


def test_registry_name_too_short_is_refused() -> None:
    with pytest.raises(ValueError, match="5-50"):
        naming.registry_name("", "", "", "ab")


def test_pool_name_patterns_follow_the_os_limits() -> None:
    assert naming.WINDOWS_POOL_NAME.fullmatch("win22")
    assert not naming.WINDOWS_POOL_NAME.fullmatch("win2022")  # 7 characters
    assert naming.LINUX_POOL_NAME.fullmatch("systempool12")
    assert not naming.LINUX_POOL_NAME.fullmatch("1system")


def test_subnets_are_disjoint_quarters_inside_the_network() -> None:
    subnets = naming.split_subnets("10.20.0.0/16")
    assert subnets == {"aks": "10.20.0.0/18", "agents": "10.20.64.0/18"}
    a, b = (ipaddress.ip_network(c) for c in subnets.values())
    assert not a.overlaps(b)


def test_dns_service_ip_is_inside_the_service_range() -> None:
    assert naming.dns_service_ip("10.0.0.0/16") == "10.0.0.10"


def test_role_definition_id_uses_the_scope_subscription() -> None:
    scope = "/subscriptions/1234/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r"
    assert naming.role_definition_id(scope, naming.ACR_PULL_ROLE) == (
        "/subscriptions/1234/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
    )
    with pytest.raises(ValueError):
        naming.role_definition_id("not-an-id", naming.ACR_PULL_ROLE)


def test_image_reference_prefers_the_digest() -> None:
    digest = "sha256:" + "a" * 64
    assert naming.image_reference("r.azurecr.io", "app", "1.0.0", digest) == f"r.azurecr.io/app@{digest}"
    assert naming.image_reference("r.azurecr.io", "app", "1.0.0", None) == "r.azurecr.io/app:1.0.0"


def test_labels_are_valid_dns_names() -> None:
    assert naming.namespace_name("team1") == "musicstore-team1"
    assert naming.cluster_name("gdbc", "prod") == "gdbc-prod-aks"
    with pytest.raises(ValueError):
        naming.dns_label("---")


def test_key_vault_name_is_3_to_24_characters_from_a_letter_without_double_hyphens() -> None:
    assert naming.key_vault_name("gdbc", "dev", "ab12cd") == "kv-gdbc-dev-ab12cd"
    longest = naming.key_vault_name("bootcamp-amsterdam", "venue", "z9z9z9")
    assert len(longest) == 24 and longest.endswith("-z9z9z9") and "--" not in longest
    assert naming.key_vault_name("Gd_B--x", "Dev", "q1w2e3") == "kv-gd-b-x-dev-q1w2e3"
    assert naming.KEY_VAULT_NAME.fullmatch("a-1") and not naming.KEY_VAULT_NAME.fullmatch("ab")
    assert not naming.KEY_VAULT_NAME.fullmatch("1abc") and not naming.KEY_VAULT_NAME.fullmatch("abc-")
    assert not naming.KEY_VAULT_NAME.fullmatch("a" * 25)


def test_key_vault_name_without_a_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match="3-24"):
        naming.key_vault_name("gdbc", "dev", "")
