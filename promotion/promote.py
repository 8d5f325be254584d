"""Which way an image is promoted, and the promotion itself.

`auto` (the default) imports by ACR when both registries are Azure Container Registries and the
azure-native provider's login (promotion.azure_login) gives a token; otherwise, and when ARM
refuses the import, it copies over the registry API (promotion.copy) and says so through
`announce` with the reason: a fallback moves every layer through the runner, so it is never
silent. `acr-import` fails instead of falling back; `oci-copy` always copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from promotion.acr_import import AcrImportError, ImportRequest, import_image
from promotion.azure_login import AzureLoginError, choose_login, credential, scrub
from promotion.copy import DIGEST, PromotionError

METHODS = ("auto", "acr-import", "oci-copy")
ACR_SUFFIXES = (".azurecr.io", ".azurecr.us", ".azurecr.cn")


@dataclass(frozen=True)
class Promotion:
    repository: str
    digest: str
    tag: str
    source_server: str
    target_server: str
    source_registry_id: str
    target_registry_id: str

    @property
    def target_image(self) -> str:
        return f"{self.target_server}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Outcome:
    method: str  # acr-import or oci-copy
    reason: str  # the login used, or why the import was not used; never a secret


def promote(
    promotion: Promotion,
    *,
    requested: str,
    env: Mapping[str, str],
    oci_copy: Callable[[], object],
    announce: Callable[[str], None],
    connection_verify: bool | str = True,
    poll_seconds: float = 10.0,
) -> Outcome:
    """Promote by `requested` ("auto", "acr-import" or "oci-copy"); `oci_copy` runs the copy."""
    if requested not in METHODS:
        raise PromotionError(f"promotion method {requested!r} is not one of {', '.join(METHODS)}")
    if not DIGEST.fullmatch(promotion.digest):
        raise PromotionError(f"{promotion.digest!r} is not a sha256 digest")
    if requested == "oci-copy":
        oci_copy()
        return Outcome("oci-copy", "promotionMethod oci-copy")
    imported, reason = _import(promotion, env, connection_verify, poll_seconds)
    if not imported:
        if requested == "acr-import":
            raise PromotionError(f"promotionMethod acr-import: {reason}")
        announce(
            f"ACR import of {promotion.target_image} not possible ({reason}); "
            "copying every layer through this machine over the registry API instead (oci-copy)"
        )
        oci_copy()
        return Outcome("oci-copy", reason)
    return Outcome("acr-import", reason)


def _import(
    promotion: Promotion, env: Mapping[str, str], connection_verify: bool | str, poll_seconds: float
) -> tuple[bool, str]:
    """Whether ACR imported the image, and with which login or why not."""
    outside = [s for s in (promotion.source_server, promotion.target_server) if not s.endswith(ACR_SUFFIXES)]
    if outside:
        return False, f"{outside[0]} is not an Azure Container Registry"
    login = choose_login(env)
    request = ImportRequest(
        target_registry_id=promotion.target_registry_id,
        source_registry_id=promotion.source_registry_id,
        repository=promotion.repository,
        digest=promotion.digest,
        tag=promotion.tag,
    )
    token_source: object = None
    try:
        token_source = credential(login, env, connection_verify=connection_verify)
        import_image(request, token_source, login.cloud, connection_verify=connection_verify, poll_seconds=poll_seconds)
    except AzureLoginError as err:
        return False, scrub(f"the Azure login {login.describe()} gave no token: {err}", env)
    except AcrImportError as err:
        return False, scrub(str(err), env)
    finally:
        # Every azure-identity credential has close(); the TokenCredential protocol does not say so.
        close = getattr(token_source, "close", None)
        if close is not None:
            close()
    return True, f"imported by ACR with the Azure login {login.describe()}"
