"""A small client of the Kubernetes API (REST over HTTPS, as kubectl speaks it), for the tests
and for the stand-ins of Azure's side of AKS: as the cluster admin (a client certificate) or as a
service account (a bearer token)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path}: {status}: {body[:500]}")
        self.method, self.path, self.status = method, path, status


@dataclass
class KubeClient:
    server: str
    ca: Path
    cert: tuple[Path, Path] | None = None
    token: str | None = None

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        answer = requests.request(
            method,
            self.server + path,
            json=body,
            headers=headers,
            verify=str(self.ca),
            cert=self._cert(),
            timeout=30,
        )
        if answer.status_code >= 400:
            raise KubeError(method, path, answer.status_code, answer.text)
        return answer.json() if answer.content else None

    def text(self, path: str) -> str:
        """A plain-text answer (/readyz, /version's neighbours)."""
        answer = requests.get(self.server + path, verify=str(self.ca), cert=self._cert(), timeout=10)
        if answer.status_code >= 400:
            raise KubeError("GET", path, answer.status_code, answer.text)
        return answer.text

    def _cert(self) -> tuple[str, str] | None:
        return (str(self.cert[0]), str(self.cert[1])) if self.cert else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def items(self, path: str) -> list[dict[str, Any]]:
        return list(self.get(path).get("items") or [])

    def create(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any, *, content_type: str = MERGE_PATCH) -> Any:
        return self.request("PATCH", path, body, content_type=content_type)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def may(self, verb: str, resource: str, *, namespace: str = "", group: str = "", name: str = "") -> bool:
        """What `kubectl auth can-i` asks: a SelfSubjectAccessReview, answered by the server's RBAC."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    "namespace": namespace,
                    "name": name,
                }
            },
        }
        answer = self.create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
        return bool(answer["status"]["allowed"])
