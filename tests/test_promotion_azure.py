"""The prod promotion under the Azure login the azure-native provider would use: the login chosen
from the environment, ACR's import against an HTTPS stand-in of ARM, and the announced fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.identity import (
    CertificateCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

from promotion.acr_import import IMPORT_API_VERSION
from promotion.azure_login import CLOUDS, AzureCloud, Login, choose_cloud, choose_login, credential
from promotion.copy import PromotionError
from promotion.promote import Outcome, Promotion, promote
from tests.support.azure_stand_in import (
    ACCESS_TOKEN,
    CLIENT,
    OIDC_TOKEN,
    REQUEST_TOKEN,
    SUBSCRIPTION,
    TENANT,
    AzureStandIn,
    make_tls_files,
    principal_certificate,
    registry_id,
    serving_tls,
)

REPO = "mvcmusicstore"
DIGEST = "sha256:" + "d" * 64
ACR = Promotion(
    repository=REPO,
    digest=DIGEST,
    tag="1.0.0",
    source_server="devreg.azurecr.io",
    target_server="prodreg.azurecr.io",
    source_registry_id=registry_id("devreg"),
    target_registry_id=registry_id("prodreg"),
)


@pytest.fixture
def no_az(tmp_path: Path) -> str:
    """A PATH without `az`, so no test reaches a developer's real Azure CLI login."""
    (tmp_path / "empty-bin").mkdir()
    return str(tmp_path / "empty-bin")


@pytest.fixture
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The HTTPS stand-in's base URL and the CA file that makes it trusted."""
    tls = make_tls_files(tmp_path_factory.mktemp("tls"))
    AzureStandIn.reset()
    with serving_tls(AzureStandIn, tls) as base:
        yield base, str(tls.ca)


def github_actions_env(base: str, path: str) -> dict[str, str]:
    """What deploy.yml gives `pulumi up`, plus the cloud's endpoints pointed at the stand-in."""
    return {
        "ARM_USE_OIDC": "true",
        "ARM_CLIENT_ID": CLIENT,
        "ARM_TENANT_ID": TENANT,
        "ARM_SUBSCRIPTION_ID": SUBSCRIPTION,
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{base}/oidc/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
        "ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST": base,
        "ARM_RESOURCE_MANAGER_ENDPOINT": base,
        "ARM_RESOURCE_MANAGER_AUDIENCE": "https://management.azure.com",
        "PATH": path,
    }


class Recorder:
    def __init__(self) -> None:
        self.copies = 0
        self.messages: list[str] = []

    def copy(self) -> None:
        self.copies += 1


def run(
    env: dict[str, str], ca: bool | str = True, requested: str = "auto", promotion: Promotion = ACR
) -> tuple[Outcome, Recorder]:
    seen = Recorder()
    outcome = promote(
        promotion,
        requested=requested,
        env=env,
        oci_copy=seen.copy,
        announce=seen.messages.append,
        connection_verify=ca,
        poll_seconds=0.01,
    )
    return outcome, seen


OIDC = {"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": CLIENT, "ARM_TENANT_ID": TENANT}


@pytest.mark.parametrize(
    ("env", "kind", "source", "problem"),
    [
        pytest.param(
            {**OIDC, "ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh/x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "r"},
            "oidc",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "",
            id="github-actions",
        ),
        pytest.param(
            {**OIDC, "ARM_OIDC_TOKEN": "t", "SYSTEM_OIDCREQUESTURI": "https://ado/x", "SYSTEM_ACCESSTOKEN": "a"},
            "oidc",
            "ARM_OIDC_TOKEN",
            "",
            id="azure-pipelines",
        ),
        pytest.param(
            {
                **OIDC,
                "ARM_OIDC_TOKEN_FILE_PATH": "/t",
                "ACTIONS_ID_TOKEN_REQUEST_URL": "u",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "r",
            },
            "oidc",
            "ARM_OIDC_TOKEN_FILE_PATH",
            "",
            id="token-file-before-request",
        ),
        pytest.param(
            {**OIDC, "SYSTEM_OIDCREQUESTURI": "https://ado/x", "SYSTEM_ACCESSTOKEN": "a"},
            "oidc",
            "",
            "none of ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH",
            id="ado-request-uri-is-not-read",
        ),
        pytest.param(
            {"ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": "t"},
            "oidc",
            "ARM_OIDC_TOKEN",
            "ARM_TENANT_ID and ARM_CLIENT_ID are not",
            id="oidc-without-ids",
        ),
        pytest.param(
            {**OIDC, "ARM_OIDC_TOKEN": "t", "ARM_CLIENT_SECRET": "s"}, "client-secret", "", "", id="secret-before-oidc"
        ),
        pytest.param(
            {"ARM_CLIENT_SECRET": "s", "ARM_CLIENT_ID": CLIENT},
            "client-secret",
            "",
            "ARM_TENANT_ID is not",
            id="secret-without-tenant",
        ),
        pytest.param(
            {**OIDC, "ARM_CLIENT_SECRET": "s", "ARM_CLIENT_CERTIFICATE_PATH": "/c.pem"},
            "client-certificate",
            "",
            "",
            id="certificate-before-secret",
        ),
        pytest.param(
            {**OIDC, "ARM_CLIENT_SECRET": "s", "ARM_USE_DEFAULT_AZURE_CREDENTIAL": "true"},
            "default",
            "",
            "",
            id="default-first",
        ),
        pytest.param(
            {"ARM_USE_MSI": "true", "ARM_USE_OIDC": "false"}, "managed-identity", "", "", id="managed-identity"
        ),
        pytest.param(
            {"ARM_USE_OIDC": "True", "ARM_OIDC_TOKEN": "t"},
            "azure-cli",
            "",
            "`az` is not on PATH",
            id="only-lowercase-true",
        ),
        pytest.param({}, "azure-cli", "", "no ARM_* login is set and `az` is not on PATH", id="no-login-at-all"),
    ],
)
def test_the_login_is_the_one_the_provider_chooses_for_the_environment(
    env: dict[str, str], kind: str, source: str, problem: str, no_az: str
) -> None:
    login = choose_login({**env, "PATH": no_az})
    assert (login.kind, login.oidc_source) == (kind, source)
    assert (problem in login.problem) if problem else login.problem == ""


def test_without_arm_variables_the_azure_cli_is_the_login_when_az_is_on_path(tmp_path: Path) -> None:
    az = tmp_path / "az"
    az.write_text("#!/bin/sh\nexit 1\n")
    az.chmod(0o755)
    assert choose_login({"PATH": str(tmp_path)}) == Login("azure-cli", CLOUDS["public"])


@pytest.mark.parametrize(
    ("env", "cloud"),
    [
        ({}, CLOUDS["public"]),
        ({"ARM_ENVIRONMENT": "usgovernment"}, CLOUDS["usgovernment"]),
        ({"AZURE_ENVIRONMENT": "china"}, CLOUDS["china"]),
        (
            {
                "ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST": "https://login.example/",
                "ARM_RESOURCE_MANAGER_ENDPOINT": "https://arm.example/",
                "ARM_RESOURCE_MANAGER_AUDIENCE": "https://arm.example/",
                "ARM_ENVIRONMENT": "china",
            },
            AzureCloud("https://login.example", "https://arm.example", "https://arm.example/"),
        ),
    ],
)
def test_the_cloud_is_the_providers(env: dict[str, str], cloud: AzureCloud) -> None:
    assert choose_cloud(env) == cloud


@pytest.mark.parametrize(
    ("env", "credential_type"),
    [
        ({**OIDC, "ARM_OIDC_TOKEN": "t"}, ClientAssertionCredential),
        ({**OIDC, "ARM_CLIENT_SECRET": "s"}, ClientSecretCredential),
        ({"ARM_USE_MSI": "true"}, ManagedIdentityCredential),
        ({"ARM_USE_DEFAULT_AZURE_CREDENTIAL": "true"}, DefaultAzureCredential),
    ],
)
def test_each_login_is_built_as_its_azure_identity_credential(env: dict[str, str], credential_type: type) -> None:
    assert isinstance(credential(choose_login(env), env), credential_type)


def test_a_certificate_login_reads_the_certificate_file(tmp_path: Path) -> None:
    env = {**OIDC, "ARM_CLIENT_CERTIFICATE_PATH": str(principal_certificate(tmp_path))}
    assert isinstance(credential(choose_login(env), env), CertificateCredential)


def test_under_oidc_in_github_actions_acr_imports_the_digest_and_nothing_is_copied(
    azure: tuple[str, str], no_az: str
) -> None:
    base, ca = azure
    outcome, seen = run(github_actions_env(base, no_az), ca)
    assert (outcome.method, seen.copies, seen.messages) == ("acr-import", 0, [])
    assert outcome.reason == "imported by ACR with the Azure login oidc (ACTIONS_ID_TOKEN_REQUEST_URL)"
    oidc, token, post, *polls = AzureStandIn.calls
    assert (oidc.method, oidc.authorization) == ("GET", f"Bearer {REQUEST_TOKEN}")
    assert parse_qs(urlsplit(oidc.path).query) == {"api-version": ["2.0"], "audience": ["api://AzureADTokenExchange"]}
    assert token.path == f"/{TENANT}/oauth2/v2.0/token"
    assert {k: token.body[k] for k in ("client_id", "client_assertion", "scope")} == {
        "client_id": CLIENT,
        "client_assertion": OIDC_TOKEN,
        "scope": "https://management.azure.com/.default",
    }
    assert post.path == f"{registry_id('prodreg')}/importImage?api-version={IMPORT_API_VERSION}"
    assert (post.authorization, post.body) == (
        f"Bearer {ACCESS_TOKEN}",
        {
            "source": {"resourceId": registry_id("devreg"), "sourceImage": f"{REPO}@{DIGEST}"},
            "targetTags": [f"{REPO}:1.0.0"],
            "mode": "NoForce",
        },
    )
    assert [urlsplit(p.path).path for p in polls] == [
        "/operations/import-1",
        "/operations/import-1",
        "/locations/import-1",
    ]
    assert {p.authorization for p in polls} == {f"Bearer {ACCESS_TOKEN}"}


def test_without_any_azure_login_the_copy_runs_and_the_output_says_why(no_az: str) -> None:
    outcome, seen = run({"PATH": no_az})
    assert (outcome.method, seen.copies) == ("oci-copy", 1)
    assert seen.messages == [
        f"ACR import of prodreg.azurecr.io/{REPO}:1.0.0 not possible (the Azure login azure-cli gave no token: "
        "no ARM_* login is set and `az` is not on PATH); copying every layer through this machine over the "
        "registry API instead (oci-copy)"
    ]


def test_an_import_arm_refuses_falls_back_to_the_copy_and_keeps_the_token_out_of_the_message(
    azure: tuple[str, str], no_az: str
) -> None:
    base, ca = azure
    env = {**github_actions_env(base, no_az), "ARM_OIDC_TOKEN": OIDC_TOKEN}
    AzureStandIn.reset(refusal={"error": {"code": "Conflict", "message": f"tag exists (assertion {OIDC_TOKEN})"}})
    outcome, seen = run(env, ca)
    assert (outcome.method, seen.copies) == ("oci-copy", 1)
    assert "(Conflict) tag exists (assertion ***)" in outcome.reason
    assert OIDC_TOKEN not in seen.messages[0] and "(Conflict) tag exists" in seen.messages[0]
    assert [c.method for c in AzureStandIn.calls] == ["POST", "POST"]  # token from ARM_OIDC_TOKEN, then importImage


def test_acr_import_asked_for_fails_instead_of_copying_when_there_is_no_login(no_az: str) -> None:
    with pytest.raises(PromotionError, match=r"acr-import: the Azure login azure-cli gave no token"):
        run({"PATH": no_az}, requested="acr-import")


def test_a_registry_outside_acr_is_copied_and_said_so(no_az: str) -> None:
    local = Promotion(REPO, DIGEST, "1.0.0", "127.0.0.1:5000", "prodreg.azurecr.io", "", registry_id("prodreg"))
    outcome, seen = run({**OIDC, "ARM_OIDC_TOKEN": "t", "PATH": no_az}, promotion=local)
    assert (outcome.method, outcome.reason, seen.copies) == (
        "oci-copy",
        "127.0.0.1:5000 is not an Azure Container Registry",
        1,
    )
    assert len(seen.messages) == 1


def test_oci_copy_asked_for_copies_without_trying_azure(no_az: str) -> None:
    outcome, seen = run({**OIDC, "ARM_OIDC_TOKEN": "t", "PATH": no_az}, requested="oci-copy")
    assert (outcome.method, seen.copies, seen.messages) == ("oci-copy", 1, [])
