"""Offline runs register their resources without the Python stack trace.

For every resource it registers, the Python SDK walks the whole interpreter stack
(`_get_stack_trace`, pulumi/runtime/resource.py: `traceback.extract_stack()`, a frame summary
and a source line read through linecache per frame, then a file URI per frame) and sends it
with the request as `stackTrace` and `sourcePosition`, for the engine to say where in the
program a resource was declared. In a 30-team venue plan that walk is a fifth of the run or
more (benchmarks/scale_benchmark.py's sdk-trace column against its plan column). The offline
monitor (offline/recording.py) keeps a request's type, name, inputs and options, never its
source position, so `installed()` has the SDK send the empty trace it sends itself when it
finds no program frame, for one offline run only. A run under the real
engine keeps the SDK's own walk. tests/test_plan.py checks that a plan registers exactly the
same resources either way; benchmarks/scale_benchmark.py measures both.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from unittest import mock

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

SDK_STACK_TRACE = sdk_resource._get_stack_trace


def no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


# What an offline run registers with: no trace; SDK_STACK_TRACE to compare with the SDK's own.
offline_stack_trace: Callable[[], source_pb2.StackTrace] = no_stack_trace


def installed() -> AbstractContextManager[object]:
    """The SDK registers with `offline_stack_trace` for the duration: the standard library's
    attribute swap, put back on the way out however the run ends."""
    return mock.patch.object(sdk_resource, "_get_stack_trace", offline_stack_trace)
