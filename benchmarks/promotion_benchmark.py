"""Promotion of an image with a large layer between two local registries, beside skopeo.

    .venv/bin/python benchmarks/promotion_benchmark.py [--layer-mib 1024]

Starts a "dev" registry and two fresh "prod" registries (Debian's docker-registry with
basic auth on 127.0.0.1), pushes an image with one layer of random bytes to dev, then
promotes it by digest twice in the same run: with promotion.copy.copy_image into one
prod registry, and with `skopeo copy --preserve-digests` into the other. Each copy runs in
a child process; wall time and that process's peak resident memory are reported. Measured,
never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from promotion.registry_client import RegistryClient  # noqa: E402
from tests.support.local_registry import LocalRegistry, digest_of  # noqa: E402

REPO = "mvcmusicstore"
MIB = 2**20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

# Runs one command and reports its wall time and peak memory (it is this wrapper's only child).
MEASURE = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
if done.returncode:
    sys.exit(done.stderr[-2000:] or done.stdout[-2000:])
print(json.dumps({"wall_s": wall, "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

COPY = r"""
import sys
from promotion.copy import copy_image
from promotion.registry_client import RegistryClient
src, dst, user, sp, dp, repo, digest, tag = sys.argv[1:]
stats = copy_image(RegistryClient(src, user, sp), RegistryClient(dst, user, dp), repo, digest, tag)
print(stats)
"""


def random_layer(path: Path, mib: int) -> str:
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(mib):
            chunk = os.urandom(MIB)
            hasher.update(chunk)
            out.write(chunk)
    return "sha256:" + hasher.hexdigest()


def push(client: RegistryClient, layer_path: Path, layer_digest: str) -> str:
    def chunks() -> object:
        with layer_path.open("rb") as data:
            while piece := data.read(8 * MIB):
                yield piece

    client.upload_blob(REPO, layer_digest, chunks())  # type: ignore[arg-type]
    config = json.dumps(
        {"architecture": "amd64", "os": "windows", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
    )
    client.upload_blob(REPO, digest_of(config.encode()), [config.encode()])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config.encode()),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": layer_path.stat().st_size,
                }
            ],
        }
    ).encode()
    client.put_manifest(REPO, digest_of(manifest), manifest, OCI_MANIFEST)
    return digest_of(manifest)


def measure(command: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], cwd=ROOT, capture_output=True, text=True, check=True, timeout=3600
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer-mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        dev = LocalRegistry("dev", base / "dev").start()
        ours = LocalRegistry("prod", base / "prod-ours", password=dev.password).start()
        theirs = LocalRegistry("prod", base / "prod-skopeo", password=dev.password).start()
        try:
            started = time.perf_counter()
            layer_digest = random_layer(base / "layer.bin", args.layer_mib)
            digest = push(dev.client(), base / "layer.bin", layer_digest)
            (base / "layer.bin").unlink()
            print(f"pushed {REPO}@{digest} with a {args.layer_mib} MiB layer in {time.perf_counter() - started:.1f} s")
            copy = measure(
                [
                    sys.executable,
                    "-c",
                    COPY,
                    dev.server,
                    ours.server,
                    "ci",
                    dev.password,
                    dev.password,
                    REPO,
                    digest,
                    "1.0.0",
                ]
            )
            creds = f"ci:{dev.password}"
            skopeo = measure(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--preserve-digests",
                    "--src-tls-verify=false",
                    "--dest-tls-verify=false",
                    "--src-creds",
                    creds,
                    "--dest-creds",
                    creds,
                    f"docker://{dev.server}/{REPO}@{digest}",
                    f"docker://{theirs.server}/{REPO}:1.0.0",
                ]
            )
            same = {r.client().manifest_digest(REPO, "1.0.0") for r in (ours, theirs)} == {digest}
            size = args.layer_mib / 1024
            print(f"{'tool':26} {'wall s':>8} {'MiB/s':>8} {'peak RSS MiB':>13}")
            for name, m in (("copy_image (this project)", copy), ("skopeo copy", skopeo)):
                print(f"{name:26} {m['wall_s']:8.1f} {size * 1024 / m['wall_s']:8.0f} {m['peak_rss_mib']:13.0f}")
            print(f"both targets name {digest} under 1.0.0: {same}")
        finally:
            for registry in (dev, ours, theirs):
                registry.stop()


if __name__ == "__main__":
    main()
