"""A small client of the OCI distribution API, enough to copy an image between registries.

It speaks to Azure Container Registry (Bearer tokens from the admin credentials) and to
any registry with basic auth (the local `docker-registry` servers of the tests). Blobs are
streamed in fixed chunks, so memory stays bounded whatever the layer size. Blob downloads
may redirect to storage on another host; requests drops the credentials on such a hop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
CHUNK = 1024 * 1024
LOCAL_HOSTS = ("127.", "localhost", "[::1]")
TAGS_PAGE = 100  # tags asked for per page (`n`); a registry may send fewer, or all at once
TAG_PAGES = 1000  # past that many pages, a registry is sending the same page again and again
NEXT_PAGE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


class RegistryError(Exception):
    """A registry refused, failed or could not be reached; the message says which and why."""


@dataclass
class RegistryClient:
    server: str  # host[:port], as in an image reference
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    chunk_size: int = CHUNK

    def __post_init__(self) -> None:
        # Plain HTTP only for servers on this machine (the tests' local registries).
        self.base = f"{'http' if self.server.startswith(LOCAL_HOSTS) else 'https'}://{self.server}"
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}

    # --- reads -------------------------------------------------------------------------
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        response = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", repository, headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
        if response.status_code == 404:
            raise RegistryError(f"{repository}@{reference} does not exist in {self.server}")
        self._check(response, f"read manifest {repository}@{reference}")
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        return response.content, media_type

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        response = self._request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", repository, headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
        if response.status_code == 404:
            return None
        self._check(response, f"look up {repository}:{reference}")
        return response.headers.get("Docker-Content-Digest")

    def tags(self, repository: str) -> list[str]:
        """The repository's tags, page after page as the registry's `Link: <...>; rel="next"` leads
        (the distribution spec's "Listing Tags"); [] for a repository that does not exist yet
        (404 NAME_UNKNOWN): nothing was pushed to it."""
        tags: list[str] = []
        url = f"{self.base}/v2/{repository}/tags/list?n={TAGS_PAGE}"
        for _ in range(TAG_PAGES):
            response = self._request("GET", url, repository)
            if response.status_code == 404 and "NAME_UNKNOWN" in _errors(response):
                return []
            self._check(response, f"list the tags of {repository}")
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            page = body.get("tags") if isinstance(body, dict) else None  # "tags": null once all are deleted
            if not isinstance(body, dict) or not isinstance(page or [], list):
                raise RegistryError(f"{self.server} listed the tags of {repository} without a `tags` list")
            tags += [str(tag) for tag in page or []]
            link = NEXT_PAGE.search(response.headers.get("Link", ""))
            if link is None:
                return tags
            url = urljoin(url, link[1])
            # The token or password goes with every request: never to a host the registry names.
            if urlsplit(url)[:2] != urlsplit(self.base)[:2]:
                raise RegistryError(f"{self.server} sent the next page of {repository}'s tags to another host: {url}")
        raise RegistryError(f"{self.server} listed more than {TAG_PAGES} pages of {repository}'s tags")

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self._request("HEAD", f"/v2/{repository}/blobs/{digest}", repository)
        if response.status_code == 404:
            return False
        self._check(response, f"look up blob {digest}")
        return True

    def read_blob(self, repository: str, digest: str) -> Iterator[bytes]:
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}", repository, stream=True)
        if response.status_code == 404:
            raise RegistryError(f"blob {digest} of {repository} does not exist in {self.server}")
        self._check(response, f"read blob {digest}")
        try:
            yield from response.iter_content(chunk_size=self.chunk_size)
        except requests.RequestException as err:
            raise RegistryError(f"reading blob {digest} from {self.server} broke off: {err}") from None
        finally:
            response.close()

    # --- writes ------------------------------------------------------------------------
    def upload_blob(self, repository: str, digest: str, chunks: Iterable[bytes]) -> int:
        """Streamed upload (POST, one PATCH whose body streams every chunk, PUT with the
        digest), as `docker push` and skopeo upload: one request carries the whole blob, and
        no more than a chunk is held in memory. Returns the bytes sent."""
        response = self._request("POST", f"/v2/{repository}/blobs/uploads/", repository)
        self._check(response, f"start upload of {digest}", expect=(202,))
        location = response.headers["Location"]
        sent = 0

        def counted() -> Iterator[bytes]:
            nonlocal sent
            for chunk in chunks:
                sent += len(chunk)
                yield chunk

        headers = {"Content-Type": "application/octet-stream"}
        response = self._request("PATCH", location, repository, headers=headers, data=counted())
        self._check(response, f"upload {digest}", expect=(202,))
        location = response.headers["Location"]
        separator = "&" if "?" in location else "?"
        response = self._request(
            "PUT", f"{location}{separator}digest={digest}", repository, headers={"Content-Length": "0"}
        )
        self._check(response, f"finish upload of {digest}", expect=(201,))
        return sent

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        response = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            headers={"Content-Type": media_type},
            data=body,
        )
        self._check(response, f"write manifest {repository}:{reference}", expect=(201,))
        return response.headers.get("Docker-Content-Digest", "")

    # --- deletes (a registry purge) -------------------------------------------------------
    def delete_manifest(self, repository: str, digest: str) -> None:
        """Deletes a manifest by digest (the distribution spec's "Deleting Manifests"), and with
        it every tag on it; a registry that does not allow deletes says so (405 UNSUPPORTED)."""
        response = self._request("DELETE", f"/v2/{repository}/manifests/{digest}", repository)
        self._check(response, f"delete manifest {repository}@{digest}", expect=(202,))

    def delete_tag(self, repository: str, tag: str) -> bool:
        """Deletes a tag alone (OCI distribution spec 1.1, "Deleting tags": `DELETE` of the
        manifest by tag); False when the registry refuses tags there, as distribution 2.8 does
        (it reads the reference as a digest: 400 DIGEST_INVALID) or 405 UNSUPPORTED."""
        response = self._request("DELETE", f"/v2/{repository}/manifests/{tag}", repository)
        if response.status_code in (400, 405):
            return False
        self._check(response, f"delete tag {repository}:{tag}", expect=(202,))
        return True

    # --- plumbing ----------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        repository: str,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | Iterator[bytes] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        if url.startswith("/"):
            url = f"{self.base}{url}"
        scope = f"repository:{repository}:pull,push"
        for attempt in range(2):
            sent_headers = dict(headers or {})
            if scope in self._tokens:
                sent_headers["Authorization"] = self._tokens[scope]
            try:
                response = self.session.request(
                    method, url, headers=sent_headers, data=data, stream=stream, timeout=self.timeout
                )
            except requests.ConnectionError as err:
                raise RegistryError(f"cannot reach {self.server}: {_reason(err)}") from None
            except requests.Timeout:
                raise RegistryError(f"{self.server} did not answer within {self.timeout:g} s") from None
            if response.status_code == 401 and data is not None and not isinstance(data, bytes):
                # A streamed body is spent: it cannot be sent again after the challenge.
                raise RegistryError(f"{self.server} asked for new credentials in the middle of an upload; run it again")
            if response.status_code != 401 or attempt == 1:
                if response.status_code == 401:
                    raise RegistryError(f"{self.server} refused the credentials of {self.username or 'anonymous'}")
                return response
            self._tokens[scope] = self._authorization(response.headers.get("WWW-Authenticate", ""), scope)
        raise AssertionError("unreachable")

    def _authorization(self, challenge: str, scope: str) -> str:
        if self.username is None or self.password is None:
            raise RegistryError(f"{self.server} asks for credentials and none were given")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            return requests.auth._basic_auth_str(self.username, self.password)
        if scheme.lower() != "bearer":
            raise RegistryError(f"{self.server} asks for an unknown authentication scheme {scheme!r}")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        try:
            response = self.session.get(
                fields["realm"],
                params={"service": fields.get("service", self.server), "scope": fields.get("scope", scope)},
                auth=(self.username, self.password),
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise RegistryError(f"cannot get a token from {fields.get('realm')}: {_reason(err)}") from None
        if response.status_code == 401:
            raise RegistryError(f"{self.server} refused the credentials of {self.username}")
        self._check(response, "get a token")
        token = response.json().get("token") or response.json().get("access_token")
        return f"Bearer {token}"

    def _check(self, response: requests.Response, what: str, expect: tuple[int, ...] = (200,)) -> None:
        if response.status_code not in expect:
            detail = _errors(response)
            raise RegistryError(f"{self.server} could not {what}: HTTP {response.status_code}{detail}")


def _errors(response: requests.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return ""
    return ": " + "; ".join(f"{e.get('code')} {e.get('message')}" for e in errors if isinstance(e, dict))


def _reason(err: Exception) -> str:
    text = str(err)
    for known in ("Connection refused", "Name or service not known", "timed out", "Connection reset"):
        if known in text:
            return known.lower()
    return text.splitlines()[0][:200]
