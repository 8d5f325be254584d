"""The Azure login of the azure-native provider, rebuilt from the same environment for ACR import.

`pulumi up` authenticates the azure-native provider from ARM_* variables; the promotion must
use that very login, or under OIDC (both CI systems) it finds none and copies gigabytes of
Windows layers through the runner. `choose_login` follows the provider's
`newSingleMethodAuthCredential` (pulumi-azure-native, provider/pkg/provider/auth_azidentity.go):
the first configured method wins, and one configured but incomplete is an error, not a fall
through:

1. ARM_USE_DEFAULT_AZURE_CREDENTIAL=true: DefaultAzureCredential;
2. ARM_CLIENT_CERTIFICATE_PATH: CertificateCredential (ARM_CLIENT_CERTIFICATE_PASSWORD);
3. ARM_CLIENT_SECRET: ClientSecretCredential;
4. ARM_USE_OIDC=true: ClientAssertionCredential whose assertion is ARM_OIDC_TOKEN, else the
   file ARM_OIDC_TOKEN_FILE_PATH, else a token requested from ACTIONS_ID_TOKEN_REQUEST_URL with
   ACTIONS_ID_TOKEN_REQUEST_TOKEN (GitHub Actions) for ARM_OIDC_AUDIENCE;
5. ARM_USE_MSI=true: ManagedIdentityCredential;
6. otherwise the Azure CLI (`az`).

Like the provider, a secret set beside ARM_USE_OIDC wins, and Azure Pipelines' own
SYSTEM_OIDCREQUESTURI is not read: the pipeline hands the provider its token in ARM_OIDC_TOKEN.
The cloud is ARM_ENVIRONMENT, or ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST,
ARM_RESOURCE_MANAGER_ENDPOINT and ARM_RESOURCE_MANAGER_AUDIENCE together (the provider's
getCloud). A `Login` holds no secret: the credential reads them from the environment when built.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from azure.core.credentials import TokenCredential
from azure.identity import (
    AzureCliCredential,
    CertificateCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

# What would leak if an error message echoed it; scrubbed from every message shown.
SECRET_VARIABLES = (
    "ARM_CLIENT_SECRET",
    "ARM_CLIENT_CERTIFICATE_PASSWORD",
    "ARM_OIDC_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SYSTEM_ACCESSTOKEN",
)
OIDC_AUDIENCE = "api://AzureADTokenExchange"  # what GitHub is asked for unless ARM_OIDC_AUDIENCE says otherwise


class AzureLoginError(Exception):
    """No token could be had with the chosen login; the message says why, without secrets."""


@dataclass(frozen=True)
class AzureCloud:
    authority: str
    resource_manager: str
    audience: str

    @property
    def scope(self) -> str:
        # As Go's azcore: the audience plus /.default (a v1 audience keeps its trailing slash).
        return f"{self.audience}/.default"


CLOUDS = {
    "public": AzureCloud(
        "https://login.microsoftonline.com", "https://management.azure.com", "https://management.azure.com"
    ),
    "usgovernment": AzureCloud(
        "https://login.microsoftonline.us",
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net",
    ),
    "china": AzureCloud(
        "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn"
    ),
}


@dataclass(frozen=True)
class Login:
    """The login the provider would use: `kind` names the credential, `problem` (when not
    empty) says why it cannot give a token."""

    kind: str  # default, client-certificate, client-secret, oidc, managed-identity, azure-cli
    cloud: AzureCloud
    tenant_id: str = ""
    client_id: str = ""
    oidc_source: str = ""  # the variable the OIDC assertion comes from
    problem: str = ""

    def describe(self) -> str:
        return f"{self.kind} ({self.oidc_source})" if self.oidc_source else self.kind


def choose_login(env: Mapping[str, str]) -> Login:
    """The provider's choice of login for this environment (no network, no secret kept)."""
    base = Login("", choose_cloud(env), env.get("ARM_TENANT_ID", ""), env.get("ARM_CLIENT_ID", ""))
    ids = ("ARM_TENANT_ID", "ARM_CLIENT_ID")
    if env.get("ARM_USE_DEFAULT_AZURE_CREDENTIAL") == "true":
        return replace(base, kind="default")
    for kind, variable in (
        ("client-certificate", "ARM_CLIENT_CERTIFICATE_PATH"),
        ("client-secret", "ARM_CLIENT_SECRET"),
    ):
        if env.get(variable):
            return replace(base, kind=kind, problem=_missing(env, variable, ids))
    if env.get("ARM_USE_OIDC") == "true":
        problem = _missing(env, "ARM_USE_OIDC=true", ids)
        source = next((v for v in ("ARM_OIDC_TOKEN", "ARM_OIDC_TOKEN_FILE_PATH") if env.get(v)), "")
        if not source and env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
            source = "ACTIONS_ID_TOKEN_REQUEST_URL"
        if not source and not problem:
            problem = (
                "ARM_USE_OIDC=true but none of ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH, "
                "ACTIONS_ID_TOKEN_REQUEST_URL with ACTIONS_ID_TOKEN_REQUEST_TOKEN is set"
            )
        return replace(base, kind="oidc", oidc_source=source, problem=problem)
    if env.get("ARM_USE_MSI") == "true":
        return replace(base, kind="managed-identity")
    has_az = shutil.which("az", path=env.get("PATH") or os.defpath) is not None
    return replace(base, kind="azure-cli", problem="" if has_az else "no ARM_* login is set and `az` is not on PATH")


def choose_cloud(env: Mapping[str, str]) -> AzureCloud:
    custom = [env.get(f"ARM_{k}", "") for k in ("ACTIVE_DIRECTORY_AUTHORITY_HOST", "RESOURCE_MANAGER_ENDPOINT")]
    audience = env.get("ARM_RESOURCE_MANAGER_AUDIENCE", "")
    if all(custom) and audience:
        return AzureCloud(custom[0].rstrip("/"), custom[1].rstrip("/"), audience)
    name = (env.get("ARM_ENVIRONMENT") or env.get("AZURE_ENVIRONMENT") or "public").lower()
    return CLOUDS.get(name, CLOUDS["public"])


def credential(login: Login, env: Mapping[str, str], *, connection_verify: bool | str = True) -> TokenCredential:
    """The azure-identity credential of `login`. `connection_verify` is azure-core's: a CA
    bundle path for a stand-in of the Azure endpoints."""
    if login.problem:
        raise AzureLoginError(login.problem)
    common = {"authority": login.cloud.authority, "connection_verify": connection_verify}
    if env.get("ARM_DISABLE_INSTANCE_DISCOVERY") == "true":
        common["disable_instance_discovery"] = True
    tenant, client = login.tenant_id, login.client_id
    if login.kind == "default":
        return DefaultAzureCredential(**common)
    if login.kind == "client-certificate":
        password = env.get("ARM_CLIENT_CERTIFICATE_PASSWORD") or None
        return CertificateCredential(tenant, client, env["ARM_CLIENT_CERTIFICATE_PATH"], password=password, **common)
    if login.kind == "client-secret":
        return ClientSecretCredential(tenant, client, env["ARM_CLIENT_SECRET"], **common)
    if login.kind == "oidc":
        return ClientAssertionCredential(tenant, client, oidc_assertion(login, env, connection_verify), **common)
    if login.kind == "managed-identity":
        return ManagedIdentityCredential(client_id=client or None, connection_verify=connection_verify)
    return AzureCliCredential(tenant_id=tenant, subscription=env.get("ARM_SUBSCRIPTION_ID") or None)


def oidc_assertion(login: Login, env: Mapping[str, str], connection_verify: bool | str) -> Callable[[], str]:
    """The OIDC token the provider would present; asked for anew at each Azure token request,
    since a file may be rotated and a requested token is short-lived."""
    if login.oidc_source == "ARM_OIDC_TOKEN":
        token = env["ARM_OIDC_TOKEN"]
        return lambda: token
    if login.oidc_source == "ARM_OIDC_TOKEN_FILE_PATH":
        path = Path(env["ARM_OIDC_TOKEN_FILE_PATH"])
        return lambda: _read_token(path)
    url = _with_audience(env["ACTIONS_ID_TOKEN_REQUEST_URL"], env.get("ARM_OIDC_AUDIENCE") or OIDC_AUDIENCE)
    bearer = env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]

    def requested() -> str:
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
        try:
            response = requests.get(url, headers=headers, timeout=60, verify=connection_verify)
        except requests.RequestException as err:
            raise AzureLoginError(f"the OIDC token request could not reach {urlsplit(url).netloc}: {err}") from None
        if not response.ok:
            raise AzureLoginError(f"the OIDC token request answered HTTP {response.status_code}")
        try:
            value = response.json().get("value")
        except ValueError:
            value = None
        if not value:
            raise AzureLoginError("the OIDC token request answered no token")
        return str(value)

    return requested


def scrub(text: str, env: Mapping[str, str]) -> str:
    """`text` without any secret of the login: safe to log and to keep in outputs."""
    for variable in SECRET_VARIABLES:
        value = env.get(variable, "")
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _read_token(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise AzureLoginError(f"cannot read the OIDC token file {path}: {err.strerror}") from None


def _with_audience(url: str, audience: str) -> str:
    # As the provider: GitHub's URL carries its own query (api-version); audience is set, not added.
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "audience"] + [("audience", audience)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _missing(env: Mapping[str, str], configured: str, required: tuple[str, ...]) -> str:
    absent = [name for name in required if not env.get(name)]
    return f"{configured} is set but {' and '.join(absent)} {'is' if len(absent) == 1 else 'are'} not" if absent else ""
