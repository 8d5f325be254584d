"""Promotion by digest: the copy between two real registry servers on 127.0.0.1 with basic auth,
the tag convention, and the registry client's token exchange. The Azure side is in
test_promotion_azure.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from components.naming import image_tags
from promotion import copy as promotion
from promotion.copy import PromotionError, copy_image
from promotion.registry_client import RegistryClient, RegistryError
from tests.support.http_stand_in import JsonHandler, serving
from tests.support.local_registry import LocalRegistry, free_port, layer, push_image, push_index, registries_available

REPO = "mvcmusicstore"


def _needs_registries() -> None:
    # Only the tests on real registries: the ACR import and login tests need none.
    if not registries_available():
        pytest.skip("scripts/bootstrap --system installs docker-registry")


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[LocalRegistry]:
    _needs_registries()
    registry = LocalRegistry("dev", tmp_path / "dev").start()
    yield registry
    registry.stop()


@pytest.fixture
def prod(tmp_path: Path) -> Iterator[LocalRegistry]:
    _needs_registries()
    registry = LocalRegistry("prod", tmp_path / "prod").start()
    yield registry
    registry.stop()


def count_uploads(client: RegistryClient) -> list[str]:
    """Records every blob upload the client starts."""
    started: list[str] = []

    def hook(response: requests.Response, *_: Any, **__: Any) -> None:
        if response.request.method == "POST" and "/blobs/uploads/" in str(response.request.url):
            started.append(str(response.request.url))

    client.session.hooks["response"].append(hook)
    return started


def test_promotion_copies_the_image_by_digest_under_the_version_tag(dev: LocalRegistry, prod: LocalRegistry) -> None:
    digest = push_image(dev.client(), REPO, [layer("a"), layer("b"), layer("c")])
    stats = copy_image(dev.client(), prod.client(), REPO, digest, "1.0.0")
    assert (stats.blobs_copied, stats.manifests) == (4, 1)  # config and three layers
    target = prod.client()
    assert target.manifest_digest(REPO, "1.0.0") == digest
    body, _ = target.get_manifest(REPO, "1.0.0")
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest


def test_promoting_again_copies_no_blob(dev: LocalRegistry, prod: LocalRegistry) -> None:
    digest = push_image(dev.client(), REPO, [layer("a"), layer("b")])
    copy_image(dev.client(), prod.client(), REPO, digest, "1.0.0")
    target = prod.client()
    uploads = count_uploads(target)
    stats = copy_image(dev.client(), target, REPO, digest, "1.0.0")
    assert (uploads, stats.blobs_copied, stats.bytes_copied) == ([], 0, 0)
    assert target.manifest_digest(REPO, "1.0.0") == digest


def test_blobs_the_target_has_are_skipped(dev: LocalRegistry, prod: LocalRegistry) -> None:
    first = push_image(dev.client(), REPO, [layer("base"), layer("app-1")])
    second = push_image(dev.client(), REPO, [layer("base"), layer("app-2")])
    copy_image(dev.client(), prod.client(), REPO, first, "1.0.0")
    stats = copy_image(dev.client(), prod.client(), REPO, second, "1.1.0")
    assert (stats.blobs_copied, stats.blobs_skipped) == (2, 1)  # new config and layer; base skipped


def test_every_platform_of_an_index_is_promoted(dev: LocalRegistry, prod: LocalRegistry) -> None:
    digest = push_index(dev.client(), REPO, {"windows": [layer("w")], "linux": [layer("l")]})
    copy_image(dev.client(), prod.client(), REPO, digest, "2.0.0")
    target = prod.client()
    assert target.manifest_digest(REPO, "2.0.0") == digest
    index = json.loads(target.get_manifest(REPO, digest)[0])
    assert [target.manifest_digest(REPO, m["digest"]) for m in index["manifests"]] == [
        m["digest"] for m in index["manifests"]
    ]


def test_a_version_tag_never_moves(dev: LocalRegistry, prod: LocalRegistry) -> None:
    first = push_image(dev.client(), REPO, [layer("one")])
    second = push_image(dev.client(), REPO, [layer("two")])
    copy_image(dev.client(), prod.client(), REPO, first, "1.0.0")
    with pytest.raises(PromotionError, match=r"already names .*version tags never move"):
        copy_image(dev.client(), prod.client(), REPO, second, "1.0.0")
    assert prod.client().manifest_digest(REPO, "1.0.0") == first


def test_a_digest_missing_from_the_source_fails_and_writes_no_tag(dev: LocalRegistry, prod: LocalRegistry) -> None:
    missing = "sha256:" + "0" * 64
    with pytest.raises(PromotionError, match=f"mvcmusicstore@{missing} does not exist in {dev.server}"):
        copy_image(dev.client(), prod.client(), REPO, missing, "1.0.0")
    assert prod.client().manifest_digest(REPO, "1.0.0") is None


@pytest.mark.parametrize("side", ["source", "target"])
def test_wrong_credentials_fail_and_write_no_tag(side: str, dev: LocalRegistry, prod: LocalRegistry) -> None:
    digest = push_image(dev.client(), REPO, [layer("a")])
    source = RegistryClient(dev.server, dev.username, "wrong") if side == "source" else dev.client()
    target = RegistryClient(prod.server, prod.username, "wrong") if side == "target" else prod.client()
    server = dev.server if side == "source" else prod.server
    with pytest.raises(PromotionError, match=f"{server} refused the credentials of ci"):
        copy_image(source, target, REPO, digest, "1.0.0")
    assert prod.client().manifest_digest(REPO, "1.0.0") is None


def test_an_unreachable_target_fails_with_a_clear_error(dev: LocalRegistry) -> None:
    digest = push_image(dev.client(), REPO, [layer("a")])
    nowhere = f"127.0.0.1:{free_port()}"
    with pytest.raises(PromotionError, match=f"cannot reach {nowhere}: connection refused"):
        copy_image(dev.client(), RegistryClient(nowhere, "ci", "x", timeout=5), REPO, digest, "1.0.0")


def test_an_interrupted_copy_leaves_no_tag_and_a_rerun_completes_it(dev: LocalRegistry, prod: LocalRegistry) -> None:
    digest = push_image(dev.client(), REPO, [layer("a", 300_000), layer("b", 300_000), layer("c", 300_000)])
    target = prod.client(chunk_size=64 * 1024)
    patches: list[int] = []

    def kill_mid_blob(response: requests.Response, *_: Any, **__: Any) -> None:
        if response.request.method == "PATCH":
            patches.append(1)
            if len(patches) == 2:  # inside the second blob's upload: streamed, not yet committed by its PUT
                prod.stop(kill=True)

    target.session.hooks["response"].append(kill_mid_blob)
    with pytest.raises(PromotionError, match=f"cannot reach {prod.server}"):
        copy_image(dev.client(), target, REPO, digest, "1.0.0")
    prod.start()
    assert prod.client().manifest_digest(REPO, "1.0.0") is None
    stats = copy_image(dev.client(), prod.client(), REPO, digest, "1.0.0")
    assert stats.blobs_skipped >= 1 and stats.blobs_copied >= 1
    assert prod.client().manifest_digest(REPO, "1.0.0") == digest


def test_a_corrupt_source_blob_is_refused() -> None:
    class Lying(RegistryClient):
        def read_blob(self, repository: str, digest: str) -> Iterator[bytes]:
            yield b"not the content"

    with pytest.raises(PromotionError, match="does not match its digest"):
        promotion._copy_blob(
            Lying("127.0.0.1:1"), _NoBlobs("127.0.0.1:2"), REPO, "sha256:" + "1" * 64, 10, promotion.CopyStats(), print
        )


class _NoBlobs(RegistryClient):
    def has_blob(self, repository: str, digest: str) -> bool:
        return False

    def upload_blob(self, repository: str, digest: str, chunks: Any) -> int:
        return sum(len(c) for c in chunks)


def test_tags_follow_the_convention() -> None:
    assert image_tags(build_id="20261121", branch="refs/heads/develop") == ["20261121", "develop"]
    assert image_tags(build_id="812", branch="main", version="1.4.0", release=True) == [
        "812",
        "main",
        "1.4.0",
        "latest",
    ]
    assert image_tags(build_id="813", branch="feature/new cart", version="1.5.0-rc.1") == [
        "813",
        "feature-new-cart",
        "1.5.0-rc.1",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"build_id": "1", "branch": "main", "release": True}, "a release needs a semantic version"),
        ({"build_id": "1", "branch": "main", "version": "1.0"}, "is not MAJOR.MINOR.PATCH"),
        ({"build_id": "1", "branch": "main", "version": "1.0.0-rc.1", "release": True}, "never tagged latest"),
        ({"build_id": "1", "branch": "latest"}, "gives no image tag"),
        ({"build_id": "20261121.4", "branch": "main"}, "not Build.BuildId's whole number"),
        ({"build_id": "7", "branch": "refs/heads/1234"}, "would read as a build id"),
    ],
)
def test_tags_refuse_what_breaks_the_convention(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        image_tags(**kwargs)


class _AcrStandIn(JsonHandler):
    """A registry that answers as ACR does: a Bearer challenge, a token for basic credentials
    at the realm, and only then the manifest."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        host = self.headers["Host"]
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/oauth2/token"):
            if self.headers.get("Authorization") != requests.auth._basic_auth_str("prodreg", "admin-pass"):
                self.send_json({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
            else:
                self.send_json({"access_token": "acr-token"})
        elif self.headers.get("Authorization") == "Bearer acr-token":
            self.send_response(200)
            self.send_header("Docker-Content-Digest", "sha256:" + "c" * 64)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            challenge = f'Bearer realm="http://{host}/oauth2/token",service="{host}",scope="repository:{REPO}:pull"'
            self.send_response(401)
            self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Length", "0")
            self.end_headers()

    do_HEAD = do_GET  # noqa: N815


def test_an_acr_style_bearer_challenge_is_answered_with_a_token() -> None:
    _AcrStandIn.seen.clear()
    with serving(_AcrStandIn) as base:
        server = base.removeprefix("http://")
        digest = RegistryClient(server, "prodreg", "admin-pass").manifest_digest(REPO, "1.0.0")
        with pytest.raises(RegistryError, match="refused the credentials of prodreg"):
            RegistryClient(server, "prodreg", "wrong").manifest_digest(REPO, "1.0.0")
    assert digest == "sha256:" + "c" * 64
    paths = [p for p, _ in _AcrStandIn.seen]
    assert paths[:3] == [
        f"/v2/{REPO}/manifests/1.0.0",
        f"/oauth2/token?service={server.replace(':', '%3A')}&scope=repository%3A{REPO}%3Apull",
        f"/v2/{REPO}/manifests/1.0.0",
    ]
    assert _AcrStandIn.seen[2][1] == "Bearer acr-token"
