"""Azure Container Registry's server-side import: the target registry pulls the image from the
source registry itself, so no layer passes through the runner.

It goes through `azure-mgmt-containerregistry` (`registries.begin_import_image`) with an
`azure-identity` credential (promotion.azure_login), as the provider does through the Go SDK:
the SDK follows ARM's long-running operation (202, then Azure-AsyncOperation until a final
state, then Location) and its retry rules, which the hand-made request this replaces did only in
part. The source is named by its resource id and the image by digest; `mode: NoForce` makes ACR
refuse to move an existing tag, so a version tag never moves here either.
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerregistry.models import ImportImageParameters, ImportMode, ImportSource
from azure.mgmt.core.tools import parse_resource_id

from promotion.azure_login import AzureCloud, AzureLoginError

# ACR's current GA API; pinned, so a new SDK default cannot change the request under us.
IMPORT_API_VERSION = "2025-04-01"


class AcrImportError(Exception):
    """ARM refused or failed the import, or could not be reached; the message says which."""


@dataclass(frozen=True)
class ImportRequest:
    target_registry_id: str
    source_registry_id: str
    repository: str
    digest: str
    tag: str

    @property
    def source_image(self) -> str:
        return f"{self.repository}@{self.digest}"

    @property
    def target_tag(self) -> str:
        return f"{self.repository}:{self.tag}"


def import_image(
    request: ImportRequest,
    credential: TokenCredential,
    cloud: AzureCloud,
    *,
    connection_verify: bool | str = True,
    poll_seconds: float = 10.0,
    timeout_seconds: float = 1800.0,
) -> None:
    """Make `<target>/<repository>:<tag>` name `<source>/<repository>@<digest>`, by ACR import.
    Raises AzureLoginError when no token could be had, AcrImportError when ARM said no."""
    target = parse_resource_id(request.target_registry_id)
    if not {"subscription", "resource_group", "name"} <= target.keys():
        raise AcrImportError(f"{request.target_registry_id!r} is not a registry's resource id")
    client = ContainerRegistryManagementClient(
        credential,
        str(target["subscription"]),
        api_version=IMPORT_API_VERSION,
        base_url=cloud.resource_manager,
        credential_scopes=[cloud.scope],
        connection_verify=connection_verify,
    )
    parameters = ImportImageParameters(
        source=ImportSource(resource_id=request.source_registry_id, source_image=request.source_image),
        target_tags=[request.target_tag],
        mode=ImportMode.NO_FORCE,
    )
    what = f"ACR import of {request.source_image} as {request.target_tag}"
    try:
        with client:
            poller = client.registries.begin_import_image(
                str(target["resource_group"]), str(target["name"]), parameters, polling_interval=poll_seconds
            )
            poller.wait(timeout_seconds)
            if not poller.done():
                raise AcrImportError(f"{what} did not finish within {timeout_seconds:g} s")
            poller.result()  # raises what the operation ended with
    except ClientAuthenticationError as err:
        raise AzureLoginError(_first_line(err)) from None
    except AzureError as err:
        raise AcrImportError(f"{what} failed: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else type(err).__name__
