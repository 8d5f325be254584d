"""Enum-typed inputs checked against the installed azure-native SDK.

ARM refuses a value its API version does not know (AKS answers `InvalidOSSKU`, say), while the
SDK's type hints accept any string beside the enum. The SDK's enum for a property is the list of
values the API version it sends knows, so every enum-typed input the program sets is looked up
there: top-level inputs and those nested in args types, found by walking the SDK's own input
classes (each property's `_pulumi_name` is the wire name, its annotation names the enum or args
type).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from enum import EnumMeta
from types import ModuleType
from typing import Any

REFERENCE = re.compile(r"ForwardRef\('(\w+)'\)")
# An enum the API itself calls deprecated is an open list, not a rule: the VM sizes, say, whose
# docstring says "The enum data type is currently deprecated" and sends to the size APIs.
OPEN_LIST = "enum data type is currently deprecated"


def problems(typ: str, inputs: Mapping[str, Any]) -> list[str]:
    """`path = value: not in Enum (values)` for each enum-typed input outside its enum."""
    if not typ.startswith("azure-native:"):
        return []
    _, module, name = typ.split(":")
    package = importlib.import_module(f"pulumi_azure_native.{module}")
    args = getattr(package, f"{name}Args", None)
    return list(_walk(package, args, inputs, name)) if isinstance(args, type) else []


def _properties(cls: type) -> dict[str, property]:
    return {
        p.fget._pulumi_name: p  # type: ignore[union-attr]
        for p in vars(cls).values()
        if isinstance(p, property) and hasattr(p.fget, "_pulumi_name")
    }


def _walk(package: ModuleType, cls: type, value: Mapping[str, Any], path: str) -> Iterator[str]:
    known = _properties(cls)
    for key, item in value.items():
        prop = known.get(key)
        if prop is None or item is None or prop.fget is None:
            continue
        for name in dict.fromkeys(REFERENCE.findall(repr(prop.fget.__annotations__.get("return")))):
            target = getattr(package, name, None)
            if isinstance(target, EnumMeta) and OPEN_LIST not in (target.__doc__ or ""):
                allowed = sorted(str(member.value) for member in target)  # type: ignore[var-annotated]
                if isinstance(item, str) and item not in allowed:
                    yield f"{path}.{key} = {item!r}: not in {name} ({', '.join(allowed)})"
            elif isinstance(target, type) and name.endswith("Args"):
                if isinstance(item, list):
                    for index, element in enumerate(item):
                        if isinstance(element, Mapping):
                            yield from _walk(package, target, element, f"{path}.{key}[{index}]")
                elif isinstance(item, Mapping):
                    yield from _walk(package, target, item, f"{path}.{key}")
