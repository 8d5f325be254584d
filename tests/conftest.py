"""Shared fixtures: the recording mocks, and the real stacks planned once per test run (the workers share them)."""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from infra import stack_files
from infra.config import load_stack
from infra.stack_config import PROJECT, StackConfig
from offline import recording
from offline.plan import Plan, make_plan
from tests.support import budget
from tests.support.engine import REPOSITORY, Workspace, cli_bin
from tests.support.local_registry import LocalRegistry, layer, push_image

Recorder = Callable[..., recording.Recording]

# Property tests draw the same examples on every CI run: derandomized (the examples follow from
# the test itself), no example database (CI starts without one anyway), and a number of examples
# chosen for the time it costs. Every failing example ever found is kept as an @example on its
# test. Elsewhere the draws are random and more, to find new ones; HYPOTHESIS_PROFILE chooses.
settings.register_profile("ci", derandomize=True, database=None, max_examples=80, deadline=None, print_blob=True)
settings.register_profile("explore", max_examples=400, deadline=None)
settings.load_profile(budget.PROFILE)


@pytest.fixture
def recorder() -> Recorder:
    """Runs a callable (building one component, say) under the recording mocks."""

    def run(
        program: Callable[[], Any], *, stack: str = "test", config: Mapping[str, str] | None = None
    ) -> recording.Recording:
        return recording.record(program, project=PROJECT, stack=stack, config=config)

    return run


@pytest.fixture(scope="session")
def stack_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    """Each real Pulumi.<stack>.yaml, planned offline once for the whole test run: a plan is pure
    given the stack's files, so the xdist workers share each one (through the run's common temp
    folder), each worker starting from another end of the list so that they plan side by side."""
    stacks = stack_files.stacks()
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "master")  # set in each xdist worker
    if worker_id == "master":  # no xdist: nobody to share with
        return {stack: make_plan(stack) for stack in stacks}
    shared = tmp_path_factory.getbasetemp().parent / "stack-plans"
    shared.mkdir(exist_ok=True)
    order = stacks if int(worker_id.removeprefix("gw")) % 2 == 0 else stacks[::-1]
    plans = {stack: shared_plan(stack, shared) for stack in order}
    return {stack: plans[stack] for stack in stacks}


def shared_plan(stack: str, folder: Path) -> Plan:
    """The stack's plan as the first worker to ask made it; the others wait for it and load it."""
    made = folder / f"{stack}.pickle"
    with open(folder / f"{stack}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if made.exists():
            plan: Plan = pickle.loads(made.read_bytes())
            return plan
        plan = make_plan(stack)
        partial = made.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(plan))
        partial.replace(made)
        return plan


@pytest.fixture(scope="session")
def stack_runs(stack_plans: dict[str, Plan]) -> dict[str, recording.Recording]:
    return {stack: plan.recording for stack, plan in stack_plans.items()}


def stack_config(stack: str) -> StackConfig:
    return load_stack(stack)


@pytest.fixture(scope="session")
def engine_bin() -> Path:
    """The Pulumi CLI's folder (scripts/build-pulumi builds it when none is on PATH)."""
    return cli_bin()


@pytest.fixture
def new_workspace(tmp_path_factory: pytest.TempPathFactory, engine_bin: Path) -> Iterator[Callable[..., Workspace]]:
    """Makes workspaces for one test (Workspace.create's keywords); their control planes stop
    when the test ends."""
    made: list[Workspace] = []

    def make(name: str, **options: Any) -> Workspace:
        made.append(Workspace.create(tmp_path_factory.mktemp(name), engine_bin, **options))
        return made[-1]

    yield make
    for ws in made:
        ws.close()


@pytest.fixture(scope="session")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, LocalRegistry, str]]:
    """The dev and prod registries as local servers, with an image pushed to dev; its digest."""
    base = tmp_path_factory.mktemp("registries")
    dev, prod = LocalRegistry("dev", base / "dev").start(), LocalRegistry("prod", base / "prod").start()
    try:
        digest = push_image(dev.client(), REPOSITORY, [layer("engine-tests")])
        yield dev, prod, digest
    finally:
        dev.stop()
        prod.stop()


def project_building(release: str, base: Path) -> Path:
    """A copy of the project whose app/Dockerfile builds the image on `release` (ltsc2025, say):
    what a stack of that release's pools is planned against."""
    for path in [*stack_files.ROOT.glob("Pulumi*.yaml"), stack_files.ROOT / "__main__.py"]:
        (base / path.name).write_text(path.read_text())
    dockerfile = (stack_files.ROOT / "app" / "Dockerfile").read_text()
    (base / "app").mkdir(exist_ok=True)
    (base / "app" / "Dockerfile").write_text(dockerfile.replace("-ltsc2022", f"-{release}"))
    assert stack_files.image_release(base) == release
    return base
