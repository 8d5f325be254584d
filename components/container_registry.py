"""ContainerRegistry: a team's Azure Container Registry with the admin user enabled."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import containerregistry

from components.naming import registry_name


@dataclass(frozen=True)
class ContainerRegistryArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    name_prefix: str
    environment: str
    team: str
    sku: str = "Basic"
    protect: bool = False  # refuse deletion (prod)
    tags: dict[str, str] = field(default_factory=dict)


class ContainerRegistry(pulumi.ComponentResource):
    """Builds an ACR with the admin user on (teams put its credentials in their pipeline's
    Docker registry service connection) and a random suffix that keeps the name globally
    unique and stable across updates. Outputs the login server and the admin credentials,
    the password as a secret."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    login_server: pulumi.Output[str]
    admin_username: pulumi.Output[str]
    admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:azure:ContainerRegistry", name, None, opts)
        # The suffix lives in state, so the name never changes once the registry exists.
        suffix = random.RandomString(
            f"{name}-suffix", length=6, upper=False, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        registry = containerregistry.Registry(
            name,
            registry_name=suffix.result.apply(
                lambda s: registry_name(args.name_prefix, args.environment, args.team, s)
            ),
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=containerregistry.SkuArgs(name=args.sku),
            admin_user_enabled=True,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        credentials = containerregistry.list_registry_credentials_output(
            resource_group_name=args.resource_group_name,
            registry_name=registry.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.name = registry.name
        self.resource_id = registry.id
        self.login_server = registry.login_server
        self.admin_username = credentials.apply(lambda c: c.username or "")
        self.admin_password = pulumi.Output.secret(
            credentials.apply(lambda c: c.passwords[0].value if c.passwords else "")
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "login_server": self.login_server,
                "admin_username": self.admin_username,
                "admin_password": self.admin_password,
            }
        )
