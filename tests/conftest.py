"""Shared fixtures: the recording mocks, and the real stacks run once per session."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from infra import offline, stack_files
from infra.config import PROJECT, StackConfig, load_stack
from infra.plan import Plan, make_plan

Recorder = Callable[..., offline.Recording]


@pytest.fixture
def recorder() -> Recorder:
    """Runs a callable (building one component, say) under the recording mocks."""

    def run(
        program: Callable[[], Any], *, stack: str = "test", config: Mapping[str, str] | None = None
    ) -> offline.Recording:
        return offline.record(program, project=PROJECT, stack=stack, config=config)

    return run


@pytest.fixture(scope="session")
def stack_plans() -> dict[str, Plan]:
    """Each real Pulumi.<stack>.yaml, planned offline once for the session."""
    return {stack: make_plan(stack) for stack in stack_files.stacks()}


@pytest.fixture(scope="session")
def stack_runs(stack_plans: dict[str, Plan]) -> dict[str, offline.Recording]:
    return {stack: plan.recording for stack, plan in stack_plans.items()}


def stack_config(stack: str) -> StackConfig:
    return load_stack(stack)
