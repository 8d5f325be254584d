"""Real `docker-registry` servers (Debian's distribution 2.8) on 127.0.0.1 with basic auth,
standing in for the dev and prod registries; and a helper that pushes test images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from promotion.registry_client import RegistryClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalRegistry:
    name: str
    root: Path
    username: str = "ci"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    deletable: bool = False  # manifests may be deleted (storage.delete.enabled), as ACR allows

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: object) -> RegistryClient:
        return RegistryClient(self.server, self.username, self.password, **kwargs)  # type: ignore[arg-type]

    def start(self) -> LocalRegistry:
        self.root.mkdir(parents=True, exist_ok=True)
        htpasswd = self.root / "htpasswd"
        if not htpasswd.exists():
            line = subprocess.run(
                ["htpasswd", "-Bbn", self.username, self.password], capture_output=True, text=True, check=True
            ).stdout
            htpasswd.write_text(line)
        binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
        for _ in range(5):
            self._write_config()
            with open(self.root / "registry.log", "ab") as log:  # the server keeps its own copy
                self.process = subprocess.Popen([binary, "serve", str(self.config)], stdout=log, stderr=log)
            if self._answers():
                return self
            # free_port's port was taken between its check and this server's bind (another
            # server started at the same moment): the server exited; try another port.
            self.port = free_port()
        raise RuntimeError(f"registry {self.name} did not start: {(self.root / 'registry.log').read_text()[-500:]}")

    def _write_config(self) -> None:
        storage: dict[str, object] = {"filesystem": {"rootdirectory": str(self.root / "data")}}
        if self.deletable:
            storage["delete"] = {"enabled": True}
        self.config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "error", "accesslog": {"disabled": True}},
                    "storage": storage,
                    "http": {"addr": self.server, "secret": "local-test-registry"},
                    "auth": {"htpasswd": {"realm": self.name, "path": str(self.root / "htpasswd")}},
                }
            )
        )

    def _answers(self) -> bool:
        """This server, not another on its port, lets its own user in; False once it exited."""
        assert self.process is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                answer = requests.get(f"http://{self.server}/v2/", auth=(self.username, self.password), timeout=1)
                if answer.status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        if self.process.poll() is None:
            log = (self.root / "registry.log").read_text()[-500:]
            raise RuntimeError(f"registry {self.name} did not answer in 20 s: {log}")
        return False

    def stop(self, *, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def layer(seed: str, size: int = 4096) -> bytes:
    """A gzipped tar with one file of `size` pseudo-random bytes; the same bytes for the
    same seed (gzip's header time is pinned, unlike tarfile's "w:gz")."""
    data = b"".join(hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(size // 32 + 1))[:size]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(f"layer-{seed}.bin")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def digest_of(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def push_image(client: RegistryClient, repository: str, layers: list[bytes], *, os_name: str = "windows") -> str:
    """Upload the blobs and an OCI manifest by digest; returns the manifest digest."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": os_name,
            "rootfs": {"type": "layers", "diff_ids": [digest_of(b) for b in layers]},
        }
    ).encode()
    for blob in [config, *layers]:
        if not client.has_blob(repository, digest_of(blob)):
            client.upload_blob(repository, digest_of(blob), [blob])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of(b), "size": len(b)}
                for b in layers
            ],
        }
    ).encode()
    client.put_manifest(repository, digest_of(manifest), manifest, OCI_MANIFEST)
    return digest_of(manifest)


def push_index(client: RegistryClient, repository: str, platforms: dict[str, list[bytes]]) -> str:
    """An OCI index over one image per platform (os name -> layers); returns its digest."""
    entries = []
    for os_name, layers in platforms.items():
        child = push_image(client, repository, layers, os_name=os_name)
        body, _ = client.get_manifest(repository, child)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": child,
                "size": len(body),
                "platform": {"os": os_name, "architecture": "amd64"},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    client.put_manifest(repository, digest_of(index), index, OCI_INDEX)
    return digest_of(index)


def registries_available() -> bool:
    return bool(shutil.which("docker-registry") and shutil.which("htpasswd")) and os.name == "posix"
