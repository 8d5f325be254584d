"""A venue file copied for a new city and edited by hand (issue 15): each value YAML or the
organizer got wrong stops the plan with one line naming the key and the rule, before any
resource is registered; the copy with a new prefix and address range plans clean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra import config, stack_files
from infra.dated_facts import READ_ON
from infra.stack_config import ConfigError
from offline import expiry, neighbours
from offline.findings import Finding
from offline.plan import make_plan
from tests.support import project_copy

ROOT = stack_files.ROOT
VENUE = (ROOT / "Pulumi.venue-ams.yaml").read_text()
# The plan's moment when none is given: the start of the day the dated table was read.
PLANNED_AT = datetime.combine(READ_ON, datetime.min.time(), UTC)


def copied(tmp_path: Path, text: str) -> Path:
    """A project folder as the organizer's, with the copy as venue-ber."""
    return project_copy.copied(tmp_path, "venue-ber", text)


def ber(text: str = VENUE) -> str:
    """The copy as the organizer means it: Berlin's prefix and address range."""
    return text.replace("environment: ams", "environment: ber").replace("10.40.0.0/16", "10.41.0.0/16")


def expires(stamp: str) -> str:
    return ber().replace('"2027-03-20T18:00:00Z"', stamp)


def two_teams(text: str) -> str:
    """The copy with 2 teams rather than 30: what the stack's expiry does (its findings, the
    tags) does not depend on the number of teams, and the plan takes a sixth of the time."""
    assert "musicstore:teamCount: 30\n" in text
    return text.replace("musicstore:teamCount: 30\n", "musicstore:teamCount: 2\n")


BAD = {
    "version-lost-its-zero": (ber() + "  musicstore:kubernetesVersion: 1.30\n", "kubernetesVersion", "quote it"),
    "unquoted-timestamp": (expires("2027-03-20T18:00:00Z"), "expiresAt", "unquoted as a timestamp"),
    "timestamp-without-zone": (expires('"2027-03-20T18:00:00"'), "expiresAt", "with its time zone"),
    "expiry-passed": (
        expires(f'"{PLANNED_AT - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"'),
        "expiresAt",
        "has passed",
    ),
    "number-for-text": (ber() + "  musicstore:agentShutdownTime: 0800\n", "agentShutdownTime", "as a number"),
    "boolean-for-text": (ber() + "  musicstore:azdoManage: True\n", "azdoManage", "as a boolean"),
    "region-typo": (ber() + "  musicstore:location: westeruope\n", "location", "did you mean westeurope?"),
    "kubernetes-1.99": (ber() + '  musicstore:kubernetesVersion: "1.99"\n', "kubernetesVersion", "table read"),
    "windows2025-pool-for-an-ltsc2022-image": (
        ber().replace("osSku: Windows2022", "osSku: Windows2025") + "  musicstore:appWindowsVersion: ltsc2025\n",
        "appWindowsVersion",
        "app/Dockerfile builds the image on ltsc2022",
    ),
    "windows2025-pool-only": (
        ber().replace("osSku: Windows2022", "osSku: Windows2025"),
        "appWindowsVersion",
        "process isolation",
    ),
}


@pytest.mark.parametrize(("text", "key", "rule"), BAD.values(), ids=BAD.keys())
def test_each_bad_value_of_a_copied_venue_is_one_line_before_anything_is_registered(
    tmp_path: Path, text: str, key: str, rule: str
) -> None:
    registered: list[int] = []
    with pytest.raises(ConfigError) as failure:
        make_plan("venue-ber", root=copied(tmp_path, text), progress=lambda _, n: registered.append(n))
    message = str(failure.value)
    print(f"\n{message}")
    assert failure.value.key == f"musicstore:{key}" and rule in message
    assert "\n" not in message and "Traceback" not in message
    assert registered == []


def test_the_copy_with_its_own_prefix_and_range_plans_clean(tmp_path: Path) -> None:
    plan = make_plan("venue-ber", root=copied(tmp_path, ber()))
    assert plan.errors == [] and len(plan.config.teams) == 30
    # Only the organization is Amsterdam's still: its projects team01 ... are said to be taken.
    [taken] = [f for f in plan.findings if f.rule.endswith("-of-another-stack")]
    assert taken.rule == "azure-devops-names-of-another-stack" and taken.severity == "warning"
    assert taken.message.startswith("azdoOrganizationUrl: venue-ams uses the projects team01, team02, team03")
    assert "and 27 more in https://dev.azure.com/gdbc-amsterdam" in taken.message
    assert len(plan.recording.resources) > 1000  # the program ran: every team's resources
    assert plan.config.environment == "ber" and plan.config.vnet_cidr == "10.41.0.0/16"


def test_an_expiry_within_the_session_is_a_warning(tmp_path: Path) -> None:
    soon = PLANNED_AT + timedelta(hours=3)
    plan = make_plan(
        "venue-ber", root=copied(tmp_path, two_teams(expires(f'"{soon:%Y-%m-%dT%H:%M:%SZ}"'))), now=PLANNED_AT
    )
    [found] = [f for f in plan.findings if f.rule == "expires-within-session"]
    assert found.severity == "warning" and "3.0 h away, within a session of 8 h" in found.message
    assert plan.errors == []


def test_an_expiry_with_an_offset_is_kept_in_utc(tmp_path: Path) -> None:
    plan = make_plan("venue-ber", root=copied(tmp_path, two_teams(expires('"2027-03-20T19:00:00+01:00"'))))
    assert plan.config.expires_at == datetime(2027, 3, 20, 18, tzinfo=UTC)
    tags = plan.recording.one("azure-native:resources:ResourceGroup").plain("tags")
    assert tags["expires-at"] == "2027-03-20T18:00:00Z"


def test_teardown_reads_a_venue_the_tables_have_moved_past(tmp_path: Path) -> None:
    """A venue made under older tables (a region or minor no longer listed, another Windows
    release in app/Dockerfile) is refused for `pulumi up`, yet its teardown still reads it."""
    from ops import teardown_gate

    text = ber() + '  musicstore:location: "westeruope"\n  musicstore:kubernetesVersion: "1.31"\n'
    root = copied(tmp_path, text)
    with pytest.raises(ConfigError):
        make_plan("venue-ber", root=root)
    cfg = teardown_gate.load("venue-ber", root)
    assert cfg.location == "westeruope" and cfg.expires_at == datetime(2027, 3, 20, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    "stamp", ["2027-03-20T18:00Z", "2027-W12-6T18:00:00Z", "20270320T180000Z", "2027-03-20 18:00:00Z"]
)
def test_an_expiry_outside_rfc_3339_is_refused(tmp_path: Path, stamp: str) -> None:
    with pytest.raises(ConfigError, match="with its time zone"):
        make_plan("venue-ber", root=copied(tmp_path, expires(f'"{stamp}"')))


def test_a_lowercase_rfc_3339_expiry_is_read(tmp_path: Path) -> None:
    plan = make_plan("venue-ber", root=copied(tmp_path, two_teams(expires('"2027-03-20t19:00:00+01:00"'))))
    assert plan.config.expires_at == datetime(2027, 3, 20, 18, tzinfo=UTC)


def neighbours_of(tmp_path: Path, text: str) -> dict[str, Finding]:
    """What the copy venue-ber shares with the project's other stacks, by rule."""
    root = copied(tmp_path, text)
    return {f.rule: f for f in neighbours.check("venue-ber", config.load_stack("venue-ber", root), root)}


def test_a_copy_left_as_it_was_would_take_the_first_venues_names_and_says_so(tmp_path: Path) -> None:
    found = neighbours_of(tmp_path, VENUE)
    assert set(found) == {
        "names-of-another-stack",
        "azure-devops-names-of-another-stack",
        "address-range-of-another-stack",
    }
    error = found["names-of-another-stack"]
    assert error.severity == "error" and error.message.startswith("environment: 'ams'")
    assert "venue-ams's too (Pulumi.venue-ams.yaml)" in error.message and "rg-gdbc26-ams" in error.message
    assert found["address-range-of-another-stack"].message.startswith("vnetCidr: 10.40.0.0/16 overlaps venue-ams's")
    assert found["azure-devops-names-of-another-stack"].severity == "warning"


def test_the_same_organization_is_found_whatever_its_case_or_trailing_slash(tmp_path: Path) -> None:
    text = ber().replace("https://dev.azure.com/gdbc-amsterdam", "https://dev.azure.com/GDBC-Amsterdam/")
    [found] = neighbours_of(tmp_path, text).values()
    assert found.message.startswith("azdoOrganizationUrl: venue-ams uses the projects team01")


def test_agents_left_to_join_the_other_venues_pools_are_said_to(tmp_path: Path) -> None:
    """With azdoManage false the copy makes no projects, but its agents register in pools of the
    same names in the same organization."""
    [found] = neighbours_of(tmp_path, ber() + "  musicstore:azdoManage: false\n").values()
    assert found.message.startswith("agentPoolName: venue-ams uses the agent pools ")
    assert "and 27 more in https://dev.azure.com/gdbc-amsterdam" in found.message


def test_a_copy_with_its_own_organization_and_range_shares_nothing(tmp_path: Path) -> None:
    assert neighbours_of(tmp_path, ber().replace("gdbc-amsterdam", "gdbc-berlin")) == {}


@pytest.mark.parametrize(
    "broken", [(VENUE + "  musicstore:kubernetesVersion: 1.30\n").encode(), b"config:\n  musicstore:teamPrefix: \xff\n"]
)
def test_an_unreadable_neighbour_is_left_to_its_own_plan(tmp_path: Path, broken: bytes) -> None:
    root = copied(tmp_path, VENUE)  # the very names of venue-ams, which no longer reads
    (root / "Pulumi.venue-ams.yaml").write_bytes(broken)
    assert neighbours.check("venue-ber", config.load_stack("venue-ber", root), root) == []


def test_an_access_restricted_region_is_a_warning_naming_the_request_it_needs(tmp_path: Path) -> None:
    root = copied(tmp_path, ber() + "  musicstore:location: germanynorth\n")
    [restricted] = [
        f for f in expiry.judge(config.load_stack("venue-ber", root), READ_ON) if f.rule == "region-restricted"
    ]
    assert restricted.severity == "warning" and restricted.message.startswith("location: germanynorth is an")
    assert "region access request" in restricted.message and "2025-09-23" in restricted.message
    assert not [f for f in expiry.judge(config.load_stack("venue-ams"), READ_ON) if f.rule == "region-restricted"]
