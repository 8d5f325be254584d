"""Runs the real program under the Pulumi engine's mocks and records what it registers.

`run` does what Pulumi's Python language host does (change into the program directory, the
project root, and `runpy.run_path` it inside a root Stack), with the config of Pulumi.yaml and
Pulumi.<stack>.yaml, against `OfflineMocks`. The monitor keeps each registration as the engine would receive it: parent,
dependencies, provider and the inputs with their secret markers intact, so secrecy can be
checked on what would leave the program.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import settings as sdk_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from infra import config, program, stack_files
from infra.dated_facts import READ_ON
from offline import gc_tuning, quiescence, stack_traces
from offline.mocks import RESOURCE_SIG, SIG_KEY, OfflineMocks
from offline.mocks import SECRET_SIG as SECRET_VALUE_SIG
from offline.mocks import reveal as unwrap

SECRET_SIG = SIG_KEY
SECRET_MARKER = "[secret]"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    dependencies: list[str]
    inputs: dict[str, Any]  # as sent to the engine, secrets still wrapped
    ignore_changes: list[str] = field(default_factory=list)
    protect: bool = False
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    replace_with: list[str] = field(default_factory=list)  # replaced whenever one of these is
    delete_before_replace: bool = False
    state: dict[str, Any] = field(default_factory=dict)  # what the mocks answered
    outputs: dict[str, Any] = field(default_factory=dict)  # a component's registered outputs

    def masked_inputs(self) -> Any:
        return mask(self.inputs)

    def plain_inputs(self) -> dict[str, Any]:
        """The inputs with secrets unwrapped, as a policy pack sees them."""
        value: dict[str, Any] = unwrap(self.inputs)
        return value

    def plain(self, path: str) -> Any:
        """An input by dotted path (list indexes as numbers), secrets unwrapped."""
        value: Any = unwrap(self.inputs)
        for part in path.split("."):
            value = value[int(part)] if isinstance(value, list) else (value or {}).get(part)
        return value


@dataclass
class Recording:
    stack: str
    resources: dict[str, Registration]
    stack_outputs: dict[str, Any]  # raw, secrets wrapped
    warnings: list[str]

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources.values() if r.type == typ]

    def one(self, typ: str) -> Registration:
        found = self.of_type(typ)
        if len(found) != 1:
            raise AssertionError(f"expected one {typ}, found {len(found)}")
        return found[0]

    def outputs(self) -> Any:
        return unwrap(self.stack_outputs)


class RecordingMonitor(sdk_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, on_register: Callable[[int], None] | None = None) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.on_register = on_register

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        # The engine, not the SDK, turns a provider's additionalSecretOutputs into secrets
        # (random's `result`, for one); the SDK's mock monitor skips that step.
        for key in request.additionalSecretOutputs:
            if key in response.object.fields:
                plain = json_format.MessageToDict(response.object.fields[key])
                response.object.fields[key].struct_value.Clear()
                response.object.fields[key].struct_value.update({SECRET_SIG: SECRET_VALUE_SIG, "value": plain})
        if request.type != "pulumi:pulumi:Stack":
            self.registrations[response.urn] = Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                # A provider reference is "<urn>::<id>".
                provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
                dependencies=sorted(set(request.dependencies)),
                inputs=_struct(request.object),
                ignore_changes=list(request.ignoreChanges),
                protect=bool(request.protect),
                replace_with=list(request.replace_with),
                delete_before_replace=bool(request.deleteBeforeReplace),
                custom_timeouts={
                    k: v
                    for k, v in (
                        ("create", request.customTimeouts.create),
                        ("update", request.customTimeouts.update),
                        ("delete", request.customTimeouts.delete),
                    )
                    if v
                },
                state=dict(self.resources[response.urn].state) if response.urn in self.resources else {},
            )
            if self.on_register:
                self.on_register(len(self.registrations))
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=True,
            provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
            dependencies=sorted(set(request.dependencies)),
            inputs=_struct(request.properties),
            state=dict(self.resources[response.urn].state),
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = _struct(request.outputs)
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = outputs
        elif request.urn in self.registrations:
            self.registrations[request.urn].outputs = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def _struct(message: Any) -> Any:
    """A protobuf Struct as plain data; Struct keeps every number as a float."""

    def ints(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: ints(v) for k, v in value.items()}
        if isinstance(value, list):
            return [ints(v) for v in value]
        return value

    return ints(json_format.MessageToDict(message))


def mask(value: Any) -> Any:
    """Inputs with every secret replaced by "[secret]" and resource references by their URN."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return SECRET_MARKER
        if value.get(SECRET_SIG) == RESOURCE_SIG:
            return value.get("urn")
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def clear_strings(value: Any) -> Iterator[str]:
    """Every string that would travel in clear: secret-wrapped parts are skipped."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return
        for v in value.values():
            yield from clear_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from clear_strings(v)
    elif isinstance(value, str):
        yield value


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run(
    stack: str,
    *,
    root: Path = stack_files.ROOT,
    overrides: Mapping[str, str] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    stack_outputs: Callable[[str], Mapping[str, Any]] | None = None,
    on_register: Callable[[int], None] | None = None,
    files: stack_files.StackFiles | None = None,
    now: datetime | None = None,
    regenerated: frozenset[str] = frozenset(),
) -> Recording:
    """Run the program for `stack` under mocks. `overrides` replace config values (keys without
    the project namespace, values as the CLI would pass them); `secret_overrides` set
    values as `pulumi config set --secret` would. The program judges expiresAt at `now`
    (without it, the start of the day the dated facts were read), never at the clock."""
    if files is None:
        files = config.offline_files(stack, root, overrides=overrides, secret_overrides=secret_overrides)

    # As the language host does: the program directory (the project root) is the working
    # directory, and its __main__.py runs as __main__.
    at = now or datetime.combine(READ_ON, datetime.min.time(), UTC)
    with _chdir(root), _judged_at(at):
        return record(
            lambda: runpy.run_path(str(root), run_name="__main__"),
            project=files.project,
            stack=stack,
            config=files.values,
            secret_keys=files.secret_keys,
            stack_outputs=stack_outputs,
            on_register=on_register,
            regenerated=regenerated,
        )


def record(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] | None = None,
    secret_keys: set[str] | frozenset[str] = frozenset(),
    stack_outputs: Callable[[str], Mapping[str, Any]] | None = None,
    on_register: Callable[[int], None] | None = None,
    regenerated: frozenset[str] = frozenset(),
) -> Recording:
    """Run `program` inside a root Stack under OfflineMocks and return what it registered;
    `regenerated` names registries whose admin password was regenerated (OfflineMocks)."""
    monitor = RecordingMonitor(OfflineMocks(stack_outputs, regenerated), on_register)
    logger = logging.getLogger(f"musicstore.offline.{stack}")
    logger.propagate = False
    collector = _WarningCollector()
    logger.handlers[:] = [collector]
    _configure(monitor, project, stack, logger)
    pulumi.runtime.set_all_config(dict(config or {}), sorted(secret_keys))

    def with_lean_aliases() -> Any:
        pulumi.runtime.register_stack_transformation(_drop_version_aliases)
        return program()

    with quiescence.installed(), stack_traces.installed(), gc_tuning.installed():
        _sync_await(run_in_stack(with_lean_aliases))
    return Recording(stack, monitor.registrations, monitor.stack_outputs, collector.messages)


def _drop_version_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Every azure-native resource carries an alias per API version of its type (two dozen
    for a registry); the SDK's work on them is half the time of a large offline run. They
    matter only when state written by an older API version is migrated, which a run
    without state never does. An alias the program sets itself (a rename) is kept."""
    aliases = args.opts.aliases
    if not aliases or not args.type_.startswith("azure-native:"):
        return None
    kept = [a for a in aliases if not _is_version_alias(a)]
    if len(kept) == len(aliases):
        return None
    args.opts.aliases = kept or None
    return pulumi.ResourceTransformationResult(args.props, args.opts)


def _is_version_alias(alias: object) -> bool:
    type_ = getattr(alias, "type_", None)
    # pulumi.Alias leaves the fields it was not given as Ellipsis ("inherit").
    only_type = all(getattr(alias, k, None) in (None, ...) for k in ("name", "parent", "stack", "project"))
    return only_type and isinstance(type_, str) and re.match(r"^azure-native:[a-z]+/v\d{8}", type_) is not None


def _configure(monitor: RecordingMonitor, project: str, stack: str, logger: logging.Logger) -> None:
    # pulumi.runtime.set_mocks, less its root Stack: run_in_stack makes that, as the host does.
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)  # type: ignore[no-untyped-call]
    sdk_settings.configure(
        sdk_mocks.MockSettings(  # type: ignore[no-untyped-call]
            monitor=monitor,
            monitor_features=features,
            engine=sdk_mocks.MockEngine(logger),
            project=project,
            stack=stack,
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )
    sdk_settings.set_root_resource(None)  # type: ignore[arg-type]


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _judged_at(moment: datetime) -> Iterator[None]:
    before = program.judged_at
    program.judged_at = lambda: moment
    try:
        yield
    finally:
        program.judged_at = before
