"""ContainerRegistry: a team's Azure Container Registry with the admin user enabled, and the
scheduled purge that keeps it from filling up."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import containerregistry

from components.naming import registry_name
from components.registry_purge import TASK_TIMEOUT_SECONDS, PurgeRule, encoded_task

PURGE_TASK_NAME = "purge-build-ids"  # ACR task names: 5-50 letters, digits, '-' and '_'
PURGE_CPUS = 2  # the run's vCPUs, as `az acr task create --cpu` defaults; ACR bills them by the second
# The tag marking a purge a prod stack's config allowed (registryPurgeProd): policy/rules.py reads it.
PROD_PURGE_TAG = "purge-on-prod"


@dataclass(frozen=True)
class PurgeArgs:
    """The registry's scheduled purge: the rule (components.registry_purge) and its cron."""

    rule: PurgeRule
    schedule: str  # five-field cron, UTC
    on_prod: bool = False  # a prod stack's registry, allowed by its own config


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
    purge: PurgeArgs | None = None  # None: nothing is ever deleted from it


class ContainerRegistry(pulumi.ComponentResource):
    """Builds an ACR with the admin user on (teams put its credentials in their pipeline's
    Docker registry service connection), a random suffix that keeps the name globally
    unique and stable across updates, and, when asked, an ACR task that runs `acr purge` on a
    timer (ACR Tasks, every tier). Outputs the login server and the admin credentials, the
    password as a secret."""

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
        if args.purge is not None:
            self._create_purge(name, args, args.purge, registry)
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

    def _create_purge(
        self, name: str, args: ContainerRegistryArgs, purge: PurgeArgs, registry: containerregistry.Registry
    ) -> None:
        """A timer-triggered task of one step, `acr purge` (Microsoft.ContainerRegistry/registries/
        tasks; azure-native sends API 2019-06-01-preview for it). It runs in ACR, apart from any
        build: a run that fails is a failed task run in the registry's task history, never a
        failed pipeline."""
        containerregistry.Task(
            f"{name}-purge",
            registry_name=registry.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            task_name=PURGE_TASK_NAME,
            status="Enabled",
            platform=containerregistry.PlatformPropertiesArgs(os="Linux", architecture="amd64"),
            agent_configuration=containerregistry.AgentPropertiesArgs(cpu=PURGE_CPUS),
            step=containerregistry.EncodedTaskStepArgs(
                type="EncodedTask", encoded_task_content=encoded_task(purge.rule)
            ),
            trigger=containerregistry.TriggerPropertiesArgs(
                timer_triggers=[containerregistry.TimerTriggerArgs(name="schedule", schedule=purge.schedule)]
            ),
            timeout=TASK_TIMEOUT_SECONDS,
            tags={**args.tags, **({PROD_PURGE_TAG: "registryPurgeProd"} if purge.on_prod else {})},
            opts=pulumi.ResourceOptions(parent=self),
        )
