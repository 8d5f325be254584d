"""Generated passwords, secret from the moment they exist."""

from __future__ import annotations

import pulumi
import pulumi_random as random

WINDOWS_SPECIALS = "!@#$%^&*()"


def generated_password(name: str, parent: pulumi.Resource, *, specials: str = WINDOWS_SPECIALS) -> pulumi.Output[str]:
    """24 characters with at least two of each class (lower, upper, digit, special), which
    passes the rules of Windows, AKS and SQL Server; kept in state, never in config."""
    password = random.RandomPassword(
        name,
        length=24,
        min_lower=2,
        min_upper=2,
        min_numeric=2,
        min_special=2,
        override_special=specials,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(password.result)
