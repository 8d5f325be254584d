"""One way to say what is wrong: one line that names the key (or input), the value and the rule.

A key or value can hold anything a hand-edited stack file or a command line holds: a newline,
a carriage return, a NUL, a Unicode line separator. Any of them would break the one line that a
CI log, a PR comment or a script reads, so every such character is shown escaped; and a value
longer than MAX_VALUE characters is shortened, with a note that it was.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

MAX_VALUE = 120


def visible(text: str) -> str:
    """`text` with each control character and line or paragraph separator escaped (\\n, \\x00, \\u2028)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def shortened(text: str, limit: int = MAX_VALUE) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (shortened from {len(text)} characters)"


def problem(subject: str, value: str, rule: str) -> str:
    """`subject = value: rule` on one line; `value` as it should be shown (quoted, or [secret])."""
    return f"{visible(subject)} = {shortened(visible(value))}: {visible(rule)}"


def error_line(err: BaseException | str) -> str:
    """What a command prints for an error: `error: ` and the message, on one line."""
    text = str(err).strip() or type(err).__name__
    return f"error: {shortened(visible(text), 400)}"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, `error: ...`, exit 2 (argparse's own
    print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, error_line(f"{self.prog}: {message}") + "\n")
