"""Reads Pulumi.yaml and Pulumi.<stack>.yaml into the config map the CLI hands a program.

The CLI merges the project's declared defaults with the stack file and passes every value
as a string (lists and objects JSON-encoded). Offline runs do the same here, so the program
sees exactly what `pulumi up` would give it. `secure:` values cannot be decrypted without
the stack's secrets provider: they become marked placeholders, still flagged secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "[offline placeholder for secret {key}]"


class StackFileError(Exception):
    """A stack file is missing or not the shape Pulumi reads."""


@dataclass(frozen=True)
class StackFiles:
    project: str
    values: dict[str, str]
    secret_keys: frozenset[str]
    # Required secrets the files do not set, filled with marked placeholders for an offline run.
    placeholders: frozenset[str] = frozenset()


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
    for key, value in (_read_yaml(stack_path).get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = PLACEHOLDER.format(key=full)
            secrets.add(full)
        else:
            values[full] = encode(value)
    for key, value in (overrides or {}).items():
        values[f"{project}:{key}"] = value
    for key, value in (secret_overrides or {}).items():
        values[f"{project}:{key}"] = value
        secrets.add(f"{project}:{key}")
    return StackFiles(project=project, values=values, secret_keys=frozenset(secrets))


def encode(value: Any) -> str:
    """A config value as the CLI passes it to the program."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {path.parent}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise StackFileError(f"{path.name}{where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: must be a YAML mapping")
    return data
