"""How many examples a property test draws: a fixed number on CI, more when exploring.

HYPOTHESIS_PROFILE chooses (`ci` when CI is set, `explore` otherwise; scripts/test sets `ci`).
The `ci` profile draws the same examples every run (derandomized, no database); a test whose
every example plans a whole stack asks for its own, smaller, CI budget with `examples()`.
"""

from __future__ import annotations

import os

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "explore")


def examples(ci: int, explore: int) -> int:
    return ci if PROFILE == "ci" else explore
