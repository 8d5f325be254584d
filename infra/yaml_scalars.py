"""YAML as the Pulumi CLI reads a stack file.

The CLI parses with Go's yaml.v3 and turns each value into the string it hands the program.
PyYAML parses the file here (the syntax is the same for these files), but plain scalars are
resolved by yaml.v3's rules (resolve.go: `resolve`, `parseTimestamp`), not YAML 1.1's: only
true/false are booleans, `19:00` is text, `010` is octal, a timestamp is a Go time. Each is then
written as the CLI writes it; what the real CLI printed for each case (`pulumi config --json`,
v3.274.1) is what tests/test_stack_files.py holds this module to.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import yaml

BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
NULLS = frozenset({"", "~", "null", "Null", "NULL"})
FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
SPECIAL_FLOATS = frozenset({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"})
NANS = frozenset({".nan", ".NaN", ".NAN"})
TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?))?$"
)


class Plain(str):
    """A plain (unquoted) scalar: its text, what YAML made of it, and the CLI's string for it."""

    kind: str  # text, boolean, integer, number, timestamp or null
    cli: str
    data: Any  # the value inside a list or object, as JSON carries it

    def __new__(cls, text: str, kind: str, cli: str, data: Any) -> Plain:
        plain = super().__new__(cls, text)
        plain.kind, plain.cli, plain.data = kind, cli, data
        return plain

    @property
    def text(self) -> str:
        return str.__str__(self)


class UnreadableValueError(ValueError):
    """A scalar the CLI refuses (it cannot encode an infinity or NaN)."""


def read(text: str) -> Any:
    """The document, with every plain scalar a `Plain` and every quoted one a `str`."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    return None if node is None else _convert(node)


def plain_data(value: Any) -> Any:
    """`value` with each `Plain` replaced by what the CLI's JSON carries for it."""
    if isinstance(value, Plain):
        return value.data
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_data(v) for v in value]
    return value


def resolve(text: str) -> Plain:
    if text in NULLS:
        return Plain(text, "null", "", None)
    if text in BOOLEANS:
        value = BOOLEANS[text]
        return Plain(text, "boolean", "true" if value else "false", value)
    if text in SPECIAL_FLOATS or text in NANS:
        raise UnreadableValueError(f"{text} (the CLI cannot pass an infinity or NaN to a program)")
    stamp = _timestamp(text)
    if stamp is not None:
        return Plain(text, "timestamp", stamp, stamp)
    number = _number(text.replace("_", ""))
    if isinstance(number, int):
        return Plain(text, "integer", str(number), number)
    if isinstance(number, float):
        return Plain(text, "number", go_float(number), number)
    return Plain(text, "text", text, text)


def go_float(value: float) -> str:
    """Go's %v of a float64: a whole number below 1e21 without a point, else the shortest
    digits, with an exponent below 1e-4 and from 1e21 (Python's repr agrees there)."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _convert(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return {str(_convert(k)): _convert(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item) for item in node.value]
    text = str(node.value)
    if isinstance(node, yaml.ScalarNode) and node.style:  # quoted, literal or folded: text, whatever it looks like
        return text
    return resolve(text)


def _number(text: str) -> int | float | None:
    # strconv.ParseInt(s, 0, 64): 0x, 0o, 0b prefixes and a leading 0 for octal.
    body = text.lstrip("+-")
    negative = text.startswith("-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if body.startswith(prefix):
            try:
                number = int(body[2:], base)
            except ValueError:
                return None
            return -number if negative else number
    if re.fullmatch(r"[0-9]+", body) and len(text) - len(body) <= 1:
        if body.startswith("0") and len(body) > 1:
            if re.fullmatch(r"[0-7]+", body):
                return -int(body, 8) if negative else int(body, 8)
        else:
            return -int(body) if negative else int(body)
    if FLOAT.match(text):
        real = float(text)
        return real if math.isfinite(real) else None
    return None


def _timestamp(text: str) -> str | None:
    """Go's time.Time String() of a YAML timestamp, as the CLI writes it; None if not one."""
    found = TIMESTAMP.match(text)
    if not found:
        return None
    year, month, day = (int(found.group(i)) for i in (1, 2, 3))
    hour, minute, second, fraction, zone = "0", "0", "0", None, None
    if found.group(4):
        hour, minute, second, fraction, zone = found.group(4, 5, 6, 7, 8)
    elif found.group(9):
        hour, minute, second, fraction = found.group(9, 10, 11, 12)
    try:
        moment = datetime.datetime(year, month, day, int(hour), int(minute), int(second))
    except ValueError:
        return None
    frac = (fraction or "").rstrip("0")
    clock = moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "")
    if zone in (None, "Z"):
        return f"{clock} +0000 UTC"
    offset = zone.replace(":", "")
    return f"{clock} {offset} {offset}"
