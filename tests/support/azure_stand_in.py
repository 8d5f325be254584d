"""What ACR import talks to, on https://127.0.0.1, as documented: GitHub's OIDC token request,
Entra ID's token endpoint (a client assertion for an access token), and ARM's importImage (202,
an Azure-AsyncOperation to poll, then the Location). HTTPS because azure-core sends a Bearer
token over TLS only: a throwaway CA signs a certificate for 127.0.0.1, and clients trust it
through azure-core's `connection_verify=<CA file>` (and requests' `verify`)."""

from __future__ import annotations

import datetime
import ipaddress
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.http_stand_in import JsonHandler, serving

TENANT = "tenant-1"
CLIENT = "client-1"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
REQUEST_TOKEN = "github-request-token-1"  # ACTIONS_ID_TOKEN_REQUEST_TOKEN
OIDC_TOKEN = "eyJ.github-oidc-token.1"  # what GitHub answers: the assertion
ACCESS_TOKEN = "arm-access-token-1"  # what Entra ID answers for it


def registry_id(name: str, group: str = "rg-musicstore") -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/registries/{name}"
    )


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    authorization: str | None
    body: Any


class AzureStandIn(JsonHandler):
    """One server for the three services. `refusal`, when set, is the ARM error importImage
    answers with (HTTP 409) instead of accepting."""

    calls: ClassVar[list[Call]] = []
    refusal: ClassVar[dict[str, Any] | None] = None
    polls_left: ClassVar[int] = 0

    @classmethod
    def reset(cls, refusal: dict[str, Any] | None = None) -> None:
        cls.calls.clear()
        cls.refusal, cls.polls_left = refusal, 1

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        self._record(None)
        path = urlsplit(self.path).path
        if path == "/oidc/token":
            if self.headers.get("Authorization") != f"Bearer {REQUEST_TOKEN}":
                self.send_json({"message": "Bad credentials"}, status=401)
            else:
                self.send_json({"count": 1, "value": OIDC_TOKEN})
        elif path.startswith("/operations/"):
            type(self).polls_left -= 1
            self.send_json({"status": "InProgress" if self.polls_left >= 0 else "Succeeded"})
        elif path.startswith("/locations/"):
            self.send_response(204)
            self.end_headers()
        else:
            self.send_json({"error": {"code": "NotFound", "message": path}}, status=404)

    def do_POST(self) -> None:  # noqa: N802 (http.server names it)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        path = urlsplit(self.path).path
        if path == f"/{TENANT}/oauth2/v2.0/token":
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            self._record(form)
            if form.get("client_assertion") != OIDC_TOKEN:
                self.send_json({"error": "invalid_client", "error_description": "AADSTS700211"}, status=401)
            else:
                self.send_json({"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})
            return
        self._record(json.loads(raw))
        if not path.endswith("/importImage") or self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            self.send_json({"error": {"code": "AuthenticationFailed", "message": "no"}}, status=401)
        elif self.refusal is not None:
            self.send_json(self.refusal, status=409)
        else:
            base = f"https://{self.headers['Host']}"
            self.send_response(202)
            self.send_header("Azure-AsyncOperation", f"{base}/operations/import-1?api-version=2025-04-01")
            self.send_header("Location", f"{base}/locations/import-1?api-version=2025-04-01")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _record(self, body: Any) -> None:
        self.calls.append(Call(self.command, self.path, self.headers.get("Authorization"), body))


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # what a client trusts
    cert: Path
    key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A CA and a certificate for 127.0.0.1 signed by it, valid for a day."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "musicstore test CA")])
    ca = (
        certificate_builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        certificate_builder(server_name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def principal_certificate(folder: Path) -> Path:
    """A service principal's certificate as ARM_CLIENT_CERTIFICATE_PATH names it: key and
    certificate in one PEM, RSA (Entra ID signs the assertion with RS256)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "musicstore-ci")])
    now = datetime.datetime.now(datetime.UTC)
    cert = x509.CertificateBuilder(name, name, key.public_key(), x509.random_serial_number(), now, now).sign(
        key, hashes.SHA256()
    )
    path = folder / "principal.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


@contextmanager
def serving_tls(handler: type[BaseHTTPRequestHandler], tls: TlsFiles) -> Iterator[str]:
    """Serve `handler` over HTTPS on a free port for the block; yields the base URL."""
    with serving(handler, tls=(tls.cert, tls.key)) as base:
        yield base


def certificate_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
