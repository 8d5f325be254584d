"""Reads Pulumi.yaml and Pulumi.<stack>.yaml into the config map the CLI hands a program.

The CLI merges the project's declared defaults with the stack file and passes every value
as a string (lists and objects JSON-encoded). Offline runs do the same here, so the program
sees exactly what `pulumi up` would give it. `secure:` values cannot be decrypted without
the stack's secrets provider: they become marked placeholders, still flagged secret.

Plain scalars are resolved as the CLI resolves them (Go's yaml.v3, then Pulumi's config value),
not by PyYAML's YAML 1.1 rules: `no`, `yes` and `19:00` stay text; `1.30` becomes `1.3`, `010`
becomes `8`, a timestamp becomes Go's `2026-11-28 18:00:00 +0000 UTC`. The real CLI's answers
(`pulumi config --json`) are the reference, and a test holds this reader to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components import windows
from infra import yaml_scalars
from infra.yaml_scalars import Plain

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "[offline placeholder for secret {key}]"


class StackFileError(Exception):
    """A stack file is missing or not the shape Pulumi reads."""


@dataclass(frozen=True)
class Retyped:
    """A value the project declares `type: string` that YAML read, unquoted, as something else."""

    key: str
    text: str  # as written in the stack file
    kind: str  # what YAML made of it: a number, a boolean, a timestamp
    value: str  # what the CLI hands the program


@dataclass(frozen=True)
class StackFiles:
    project: str
    values: dict[str, str]
    secret_keys: frozenset[str]
    # Required secrets the files do not set, filled with marked placeholders for an offline run.
    placeholders: frozenset[str] = frozenset()
    retyped: tuple[Retyped, ...] = ()
    # The Windows release of the image app/Dockerfile builds (None: no such file, or no known pair).
    image_release: str | None = None


def stacks(root: Path = ROOT) -> list[str]:
    """Every stack that has a Pulumi.<stack>.yaml beside Pulumi.yaml."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def load(
    stack: str,
    root: Path = ROOT,
    *,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
) -> StackFiles:
    """The stack's config as the CLI passes it. `overrides` replace values (keys without the
    project namespace) as `pulumi config set` would; `secret_overrides` as `--secret` would."""
    project_file = _read_yaml(root / "Pulumi.yaml")
    project = str(project_file.get("name", ""))
    values: dict[str, str] = {}
    for key, decl in (project_file.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and "value" in decl:
            values[full] = encode(decl["value"])
        elif isinstance(decl, dict) and "default" in decl:
            values[full] = encode(decl["default"])
        elif not isinstance(decl, dict):
            values[full] = encode(decl)
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        raise StackFileError(f"no stack file {stack_path.name}: stacks here are {', '.join(stacks(root)) or 'none'}")
    secrets: set[str] = set()
    declared = {
        (k if ":" in k else f"{project}:{k}"): d.get("type")
        for k, d in (project_file.get("config") or {}).items()
        if isinstance(d, dict)
    }
    retyped: list[Retyped] = []
    for key, value in (_read_yaml(stack_path).get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = PLACEHOLDER.format(key=full)
            secrets.add(full)
            continue
        values[full] = encode(value)
        # Only where the CLI's rendering differs from what was written: `1900` passes as written.
        if isinstance(value, Plain) and value.cli != value.text and declared.get(full) == "string":
            retyped.append(Retyped(full, value.text, value.kind, values[full]))
    for key, value in (overrides or {}).items():
        values[f"{project}:{key}"] = value
    for key, value in (secret_overrides or {}).items():
        values[f"{project}:{key}"] = value
        secrets.add(f"{project}:{key}")
    overridden = {f"{project}:{k}" for k in (*(overrides or {}), *(secret_overrides or {}))}
    return StackFiles(
        project=project,
        values=values,
        secret_keys=frozenset(secrets),
        retyped=tuple(r for r in retyped if r.key not in overridden),
        image_release=image_release(root),
    )


def encode(value: Any) -> str:
    """A config value as the CLI passes it to the program."""
    if isinstance(value, Plain):
        return value.cli
    if isinstance(value, str):
        return value
    # As Go's encoding/json writes it: no spaces, object keys sorted.
    return json.dumps(yaml_scalars.plain_data(value), separators=(",", ":"), sort_keys=True)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml_scalars.read(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {path.parent}") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{path.name}: not UTF-8 text") from None
    except OSError as err:
        raise StackFileError(f"{path.name}: cannot be read ({err.strerror})") from None
    except yaml_scalars.UnreadableValueError as err:
        raise StackFileError(f"{path.name}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise StackFileError(f"{path.name}{where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: must be a YAML mapping")
    return data


def image_release(root: Path = ROOT) -> str | None:
    """The Windows release of the app image that root/app/Dockerfile builds, or None."""
    dockerfile = root / "app" / "Dockerfile"
    return windows.dockerfile_release(dockerfile.read_text(encoding="utf-8")) if dockerfile.is_file() else None
