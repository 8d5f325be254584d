"""The rules of policy.rules as pulumi-policy policies."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rules import RULES, Resource, Rule


def _resource(args: Any) -> Resource:
    return Resource(type=args.resource_type, name=args.name, urn=args.urn, props=dict(args.props or {}))


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        assert rule.check is not None
        for message in rule.check(_resource(args)):
            report(message, None)

    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=_level(rule)
    )


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        assert rule.stack_check is not None
        resources = [_resource(r) for r in args.resources]
        for resource, message in rule.stack_check(resources):
            report(message, resource.urn)

    return StackValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=_level(rule)
    )


def _level(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY


POLICIES: list[Policy] = [_resource_policy(r) if r.check is not None else _stack_policy(r) for r in RULES]
