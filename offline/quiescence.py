"""The end of an offline run, waited for in time linear in the program's outputs.

When a program's code has returned, the Python SDK waits until every outstanding RPC and
every pending Output has finished (`wait_for_rpcs`, pulumi/runtime/stack.py). Its second loop
hands *all* pending outputs to `asyncio.wait(..., return_when=FIRST_COMPLETED)` again each
time one finishes, which adds and removes a done-callback on every one of them: quadratic in
the number of pending outputs. A 30-team venue leaves thousands pending, and the loop was half
of its offline plan (525,151 `add_done_callback` calls; pulumi/pulumi#22411 rewrote the loop
and kept that shape). Under the engine the RPCs dominate; offline, with mocks that answer at
once, this loop did.

`wait_for_rpcs` here waits the same things in the same order of phases (the RPCs, one by one;
then the outputs, a batch at a time, until none are left; again while new RPCs appeared) and
raises the same errors, but waits for a batch with one `asyncio.gather`: one callback per
output. `installed()` puts it in the SDK's place for one offline run only; a run under the
real engine keeps the SDK's own. tests/test_plan.py checks that a plan registers exactly the
same resources either way; benchmarks/scale_benchmark.py measures both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager

SDK_WAIT = sdk_stack.wait_for_rpcs


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    rpc_manager: Any = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    raise exn from rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            while True:
                with SETTINGS.lock:
                    if not SETTINGS.outputs:
                        break
                    pending = list(SETTINGS.outputs)
                    SETTINGS.outputs.clear()
                await asyncio.gather(*pending)
        if not rpc_manager.rpcs:
            break


Wait = Callable[..., Coroutine[Any, Any, None]]
# What an offline run ends with: this module's wait; SDK_WAIT to compare with the SDK's own.
offline_wait: Wait = wait_for_rpcs


def installed() -> AbstractContextManager[object]:
    """The SDK's run ends with `offline_wait` for the duration: the standard library's attribute
    swap, put back on the way out however the run ends."""
    return mock.patch.object(sdk_stack, "wait_for_rpcs", offline_wait)
