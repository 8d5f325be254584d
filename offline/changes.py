"""What a change does to a stack's resources, from two offline runs of its program: which are
created, deleted or updated, which a `pulumi up --replace` takes with it, and whose team each is.

The engine decides the same way: a resource whose URN is new is created, one whose URN is gone
is deleted, one whose inputs differ is sent to its provider as an update (or a replacement,
which the provider decides). A `--replace URN` replaces that resource; only the resources that
depend on it, through their inputs, parent or provider, can change with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from offline.graph import edges
from offline.recording import Recording, Registration

CREATE, DELETE, UPDATE, REPLACE, WITH_REPLACED = "create", "delete", "update", "replace", "may change with it"


@dataclass(frozen=True)
class Change:
    action: str
    urn: str
    keys: tuple[str, ...] = ()  # the top-level inputs that differ (names only, never values)

    @property
    def type(self) -> str:
        return self.urn.split("::")[-2].rsplit("$", 1)[-1]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def engine_urn(recording: Recording, urn: str) -> str:
    """The URN the engine gives a recorded resource. The SDK's mock monitor qualifies a type by its
    parent's type alone, and a top-level one by the Stack; the engine by every ancestor's type
    below the Stack (sdk/go/common/resource/urn.go, NewURN with the parent's qualified type)."""
    reg = recording.resources[urn]
    types = [reg.type]
    parent = recording.resources.get(reg.parent)
    while parent is not None:
        types.insert(0, parent.type)
        parent = recording.resources.get(parent.parent)
    stack, project = urn.split("::")[0], urn.split("::")[1]
    return f"{stack}::{project}::{'$'.join(types)}::{reg.name}"


def between(before: Recording, after: Recording) -> list[Change]:
    """The resources the second run creates, deletes or updates, compared with the first, by the
    URNs the engine gives them. Inputs are compared with secrets unwrapped, so a new password
    counts; only key names are kept."""
    changes = [Change(DELETE, engine_urn(before, urn)) for urn in before.resources if urn not in after.resources]
    for urn, reg in after.resources.items():
        previous = before.resources.get(urn)
        if previous is None:
            changes.append(Change(CREATE, engine_urn(after, urn)))
            continue
        keys = _differing(previous, reg)
        if keys:
            changes.append(Change(UPDATE, engine_urn(after, urn), keys))
    return sorted(changes, key=lambda c: (c.action, c.urn))


def replacing(recording: Recording, urns: Iterable[str]) -> list[Change]:
    """`pulumi up --replace` of `urns` (as recorded): those resources, and every resource that
    depends on them, by the URNs the engine gives them."""
    targets = set(urns)
    unknown = targets - recording.resources.keys()
    if unknown:
        raise KeyError(f"not in the plan: {', '.join(sorted(unknown))}")
    after = set(targets)
    depends_on = edges(recording)
    for urn, reg in recording.resources.items():
        if reg.parent:
            depends_on[urn] = [*depends_on[urn], reg.parent]
    grew = True
    while grew:
        found = {urn for urn, needs in depends_on.items() if urn not in after and after.intersection(needs)}
        after |= found
        grew = bool(found)
    # What names a replaced resource in its replace_with is replaced with it (the engine's
    # ReplaceWith cascade); the rest may be updated or replaced, as their providers decide.
    replaced = set(targets)
    grew = True
    while grew:
        found = {
            u for u, r in recording.resources.items() if u not in replaced and replaced.intersection(r.replace_with)
        }
        replaced |= found
        grew = bool(found)
    taken = [Change(REPLACE if u in replaced else WITH_REPLACED, engine_urn(recording, u)) for u in after]
    return sorted(taken, key=lambda c: c.urn)


def owner(urn: str, teams: Sequence[str]) -> str | None:
    """The team a resource belongs to, from its logical name: `<team>-...` or `...-<team>`
    (names.py and the components name every per-team resource so); None for a shared one."""
    name = urn.rsplit("::", 1)[-1]
    for team in teams:
        if name == team or name.startswith(f"{team}-") or name.endswith(f"-{team}"):
            return team
    return None


def others(changes: Iterable[Change], team: str, teams: Sequence[str]) -> list[Change]:
    """The changes that are not `team`'s own: what a per-team operation must never touch."""
    return [c for c in changes if owner(c.urn, teams) != team]


def describe(changes: Sequence[Change]) -> list[str]:
    if not changes:
        return ["no resource changes"]
    lines = []
    for c in changes:
        keys = f" ({', '.join(c.keys)})" if c.keys else ""
        lines.append(f"  {c.action:<18} {c.type} {c.name}{keys}")
    return lines


def _differing(a: Registration, b: Registration) -> tuple[str, ...]:
    left, right = a.plain_inputs(), b.plain_inputs()
    return tuple(sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k)))
