"""Promotion of an image by digest from one registry to another.

The image that was tested is the image that ships: the target gets the very manifest bytes
of the source, so `<target>/<repo>@<digest>` names the same image. Two ways to copy, chosen
in promotion.promote:

- `copy_image` here: over the OCI distribution API with each registry's credentials. Blobs the
  target has are skipped; the others are streamed in chunks; child manifests of an index
  (every platform) go first, then the manifest by digest, and the version tag last, so an
  interrupted copy leaves no tag and a rerun completes it.
- ACR's server-side import (promotion.acr_import): no bytes through the runner.

A version tag never moves: promoting another digest under a tag that exists fails.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from promotion.registry_client import INDEX_TYPES, RegistryClient, RegistryError

DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


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
