"""PatVault: the Key Vault that hands the agents' PAT to the build-agent VMs.

Why a vault: the Custom Script Extension's `protectedSettings` is encrypted, but its command is
still a command line on the VM (and the PAT in it was only base64). Through a vault the PAT
never enters the extension at all: each agent VM's system-assigned identity may read this one
secret ("Key Vault Secrets User" on the secret's scope), and the bootstrap script fetches it
over IMDS and Key Vault's REST API at run time. The extension's own `managedIdentity` setting
only downloads `fileUris` from Azure Storage and the Key Vault VM extension only syncs
certificates, so neither is a simpler way to deliver a PAT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, keyvault

from components.naming import key_vault_name, stable_tags

SECRET_NAME = "azdo-agent-pat"
# Soft delete cannot be turned off; 7 days is its shortest retention. Purge protection stays off
# (it cannot be undone, and it would keep a torn-down bootcamp's PAT in a deleted vault that no
# one may purge); the name's random suffix lets a stack made again get a fresh vault meanwhile.
SOFT_DELETE_DAYS = 7


@dataclass(frozen=True)
class PatVaultArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    name_prefix: str
    environment: str
    pat: pulumi.Input[str]  # the Azure DevOps PAT; kept a Pulumi secret throughout
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PatSecret:
    """Where an agent VM reads the PAT, and what changes when the PAT does."""

    vault_name: pulumi.Input[str]
    secret_name: str
    secret_id: pulumi.Input[str]  # the scope of each VM's read grant
    # The URI of the secret's current version: Key Vault makes a new version for each new
    # value, so it changes with the PAT without revealing anything about it.
    version_uri: pulumi.Input[str]


class PatVault(pulumi.ComponentResource):
    """Builds a Key Vault with Azure RBAC authorization (no access policies), a random name
    suffix that keeps its global name unique and stable, and one secret holding the PAT.
    Outputs the vault's name and resource id and the secret's reference."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    secret: PatSecret

    def __init__(self, name: str, args: PatVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:azure:PatVault", name, None, opts)
        vault = self._create_vault(name, args)
        secret = keyvault.Secret(
            f"{name}-secret",
            secret_name=SECRET_NAME,
            vault_name=vault.name,
            resource_group_name=args.resource_group_name,
            properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(args.pat)),
            tags=stable_tags(args.tags),
            # Azure never returns the value, but the provider keeps the inputs it sent in the
            # state's outputs: `properties` must be encrypted there too.
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["properties"]),
        )
        self.name = vault.name
        self.resource_id = vault.id
        # The version URI sits in `properties`, made secret above; the URI itself is no secret.
        version_uri = pulumi.Output.unsecret(secret.properties.apply(lambda p: p.secret_uri_with_version))
        self.secret = PatSecret(vault.name, SECRET_NAME, secret.id, version_uri)
        self.register_outputs({"name": self.name, "resource_id": self.resource_id, "secret_version": version_uri})

    def _create_vault(self, name: str, args: PatVaultArgs) -> keyvault.Vault:
        # The suffix lives in state: the name never changes while the vault exists.
        suffix = random.RandomString(
            f"{name}-suffix", length=6, upper=False, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return keyvault.Vault(
            name,
            vault_name=suffix.result.apply(lambda s: key_vault_name(args.name_prefix, args.environment, s)),
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=client.tenant_id,
                sku=keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=True,
                soft_delete_retention_in_days=SOFT_DELETE_DAYS,
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
