"""Promotion of an image by digest from one registry to another.

The image that was tested is the image that ships: the target gets the very manifest bytes
of the source, so `<target>/<repo>@<digest>` names the same image. Two ways to copy:

- `copy_image`: over the OCI distribution API with each registry's credentials. Blobs the
  target has are skipped; the others are streamed in chunks; child manifests of an index
  (every platform) go first, then the manifest by digest, and the version tag last, so an
  interrupted copy leaves no tag and a rerun completes it.
- `acr_import`: Azure Container Registry's server-side import (no bytes through the
  runner), `mode: NoForce`, source by digest.

A version tag never moves: promoting another digest under a tag that exists fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from promotion.registry_client import INDEX_TYPES, RegistryClient, RegistryError

DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
ARM = "https://management.azure.com"
IMPORT_API_VERSION = "2023-07-01"


class PromotionError(Exception):
    """The promotion did not happen; no tag was written. The message says why."""


@dataclass
class CopyStats:
    blobs_copied: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    manifests: int = 0


Progress = Callable[[str], None]


def copy_image(
    source: RegistryClient,
    target: RegistryClient,
    repository: str,
    digest: str,
    tag: str,
    *,
    progress: Progress | None = None,
) -> CopyStats:
    """Make `<target>/<repository>@<digest>` exist, tagged `tag`, from the source registry."""
    say = progress or (lambda _: None)
    if not DIGEST.fullmatch(digest):
        raise PromotionError(f"{digest!r} is not a sha256 digest")
    stats = CopyStats()
    try:
        existing = target.manifest_digest(repository, tag)
        if existing and existing != digest:
            raise PromotionError(
                f"{target.server}/{repository}:{tag} already names {existing}; version tags never move"
            )
        body, media_type = _manifest(source, repository, digest)
        _copy_manifest(source, target, repository, digest, body, media_type, stats, say)
        target.put_manifest(repository, tag, body, media_type)
    except RegistryError as err:
        raise PromotionError(str(err)) from None
    say(f"tagged {target.server}/{repository}:{tag} -> {digest}")
    return stats


def _manifest(source: RegistryClient, repository: str, digest: str) -> tuple[bytes, str]:
    body, media_type = source.get_manifest(repository, digest)
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if actual != digest:
        raise PromotionError(f"{source.server} returned a manifest with digest {actual} for {digest}")
    return body, media_type


def _copy_manifest(
    source: RegistryClient,
    target: RegistryClient,
    repository: str,
    digest: str,
    body: bytes,
    media_type: str,
    stats: CopyStats,
    say: Progress,
) -> None:
    document = json.loads(body)
    if target.manifest_digest(repository, digest) == digest:
        say(f"manifest {digest[:19]} already in {target.server}")
    elif media_type in INDEX_TYPES:
        for child in document.get("manifests", []):
            child_body, child_type = _manifest(source, repository, child["digest"])
            _copy_manifest(source, target, repository, child["digest"], child_body, child_type, stats, say)
    else:
        for blob in [document["config"], *document.get("layers", [])]:
            _copy_blob(source, target, repository, blob["digest"], int(blob.get("size", 0)), stats, say)
    target.put_manifest(repository, digest, body, media_type)
    stats.manifests += 1


def _copy_blob(
    source: RegistryClient,
    target: RegistryClient,
    repository: str,
    digest: str,
    size: int,
    stats: CopyStats,
    say: Progress,
) -> None:
    if target.has_blob(repository, digest):
        stats.blobs_skipped += 1
        say(f"blob {digest[:19]} already in {target.server}")
        return
    hasher = hashlib.sha256()

    def verified() -> object:
        for chunk in source.read_blob(repository, digest):
            hasher.update(chunk)
            yield chunk
        if "sha256:" + hasher.hexdigest() != digest:
            raise PromotionError(f"blob {digest} from {source.server} does not match its digest")

    say(f"copying blob {digest[:19]} ({size / 2**20:.1f} MiB)")
    stats.bytes_copied += target.upload_blob(repository, digest, verified())  # type: ignore[arg-type]
    stats.blobs_copied += 1


def acr_import(
    *,
    target_registry_id: str,
    source_registry_id: str,
    repository: str,
    digest: str,
    tag: str,
    token: str,
    arm: str = ARM,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
) -> None:
    """ACR's importImage on the target registry, source by digest, mode NoForce."""
    if not DIGEST.fullmatch(digest):
        raise PromotionError(f"{digest!r} is not a sha256 digest")
    body = import_request(source_registry_id, repository, digest, tag)
    url = f"{arm}{target_registry_id}/importImage?api-version={IMPORT_API_VERSION}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = requests.post(url, json=body, headers=headers, timeout=60)
        if response.status_code == 200:
            return
        if response.status_code != 202:
            raise PromotionError(
                f"ACR import of {repository}@{digest} failed: HTTP {response.status_code} {response.text[:300]}"
            )
        status_url = response.headers.get("Azure-AsyncOperation") or response.headers["Location"]
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            time.sleep(poll_seconds)
            status = requests.get(status_url, headers=headers, timeout=60)
            state = (status.json() if status.content else {}).get("status", "")
            if status.status_code == 200 and state in ("", "Succeeded"):
                return
            if state in ("Failed", "Canceled"):
                raise PromotionError(f"ACR import of {repository}@{digest} {state.lower()}: {status.text[:300]}")
    except requests.RequestException as err:
        raise PromotionError(f"ACR import could not reach Azure: {err}") from None
    raise PromotionError(f"ACR import of {repository}@{digest} did not finish within {timeout_seconds:g} s")


def import_request(source_registry_id: str, repository: str, digest: str, tag: str) -> dict[str, Any]:
    return {
        "source": {"resourceId": source_registry_id, "sourceImage": f"{repository}@{digest}"},
        "targetTags": [f"{repository}:{tag}"],
        "mode": "NoForce",
    }


def azure_token() -> str | None:
    """An ARM token from the runner's Azure login: a service principal in ARM_CLIENT_ID,
    ARM_CLIENT_SECRET and ARM_TENANT_ID, or else the Azure CLI. None when there is none."""
    client, secret, tenant = (os.environ.get(k) for k in ("ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID"))
    if client and secret and tenant:
        response = requests.post(
            f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client,
                "client_secret": secret,
                "scope": f"{ARM}/.default",
            },
            timeout=60,
        )
        return str(response.json()["access_token"]) if response.ok else None
    az = shutil.which("az")
    if az:
        done = subprocess.run(
            [az, "account", "get-access-token", "--resource", f"{ARM}/", "--query", "accessToken", "-o", "tsv"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


def choose_method(requested: str, source_server: str, target_server: str, token: str | None) -> str:
    """`acr-import` when asked for, or by default when both sides are ACR and Azure
    credentials are present; `oci-copy` otherwise."""
    if requested != "auto":
        return requested
    both_acr = source_server.endswith(".azurecr.io") and target_server.endswith(".azurecr.io")
    return "acr-import" if both_acr and token else "oci-copy"
