"""Offline runs collect garbage less often.

A 30-team venue plan makes hundreds of thousands of small objects that live until the run ends
(Outputs, their futures and asyncio tasks, protobuf structs), so CPython's collector, run every
700 allocations by default, walks a heap that only grows: a third of the plan's time or more
(benchmarks/scale_benchmark.py's default-gc column against its plan column). mypy,
in the same position, sets `gc.set_threshold(200 * 1000, 30, 30)` for its build
(mypy/build.py, "Run gc less frequently, as otherwise we can spend a large fraction of cpu in
gc"); `installed()` does the same for one offline run and puts the thresholds back after. It
changes when cycles are freed, never what the program registers (tests/test_plan.py compares a
plan under the default thresholds); benchmarks/scale_benchmark.py measures both.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

THRESHOLDS: tuple[int, int, int] = (200_000, 30, 30)
# What an offline run collects with: THRESHOLDS; None to keep the interpreter's own.
offline_thresholds: tuple[int, int, int] | None = THRESHOLDS


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """The collector runs at `offline_thresholds` for the duration."""
    before = gc.get_threshold()
    if offline_thresholds is not None:
        gc.set_threshold(*offline_thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)
