"""What the registries' purge does to a day of 50 builds, on a real registry.

    .venv/bin/python benchmarks/purge_benchmark.py [--builds 50] [--keep 10] [--app-mib 4] [--base-mib 32]

Starts Debian's docker-registry (deletes enabled) on 127.0.0.1, pushes `--builds` images as the
team pipeline tags them (tests/support/registry_purge.py: build id and branch on each, main on
every tenth build, two releases with their version, latest on the newer, the app's digest
pinned), each a shared base layer and a layer of its own, then runs the purge with the
project's filter and keep (components.registry_purge.select, as the ACR task's acr purge). It
reports tags, manifests and layer bytes before and after, and the registry's storage after
`docker-registry garbage-collect` (ACR reclaims a deleted manifest's layers by itself).
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.registry_purge import PurgeRule  # noqa: E402
from promotion.registry_client import RegistryClient  # noqa: E402
from tests.support.local_registry import LocalRegistry, registries_available  # noqa: E402
from tests.support.registry_purge import purge, push_day  # noqa: E402

REPO = "mvcmusicstore"
MIB = 2**20


def layer_bytes(client: RegistryClient, digests: set[str]) -> int:
    """The bytes of every distinct layer and config the manifests name."""
    blobs: dict[str, int] = {}
    for digest in digests:
        body, _ = client.get_manifest(REPO, digest)
        manifest = json.loads(body)
        for blob in [manifest["config"], *manifest["layers"]]:
            blobs[blob["digest"]] = blob["size"]
    return sum(blobs.values())


def on_disk(registry: LocalRegistry) -> int:
    return sum(p.stat().st_size for p in (registry.root / "data").rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=50)
    parser.add_argument("--keep", type=int, default=10)
    parser.add_argument("--app-mib", type=int, default=4, help="each build's own layer")
    parser.add_argument("--base-mib", type=int, default=32, help="the layer every build shares")
    args = parser.parse_args()
    if not registries_available():
        print("needs docker-registry and htpasswd (scripts/bootstrap --system)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        registry = LocalRegistry("dev", Path(folder) / "dev", deletable=True).start()
        try:
            client = registry.client()
            day = push_day(client, REPO, builds=args.builds, base_size=args.base_mib * MIB, app_size=args.app_mib * MIB)
            before_bytes = layer_bytes(client, set(day.builds.values()))
            started = time.perf_counter()
            done = purge(client, PurgeRule(repository=REPO, keep=args.keep))
            seconds = time.perf_counter() - started
            after_bytes = layer_bytes(client, set(done.after.values()))
        finally:
            registry.stop()
        disk_before = on_disk(registry)
        binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
        subprocess.run([binary, "garbage-collect", str(registry.config)], check=True, capture_output=True)
        disk_after = on_disk(registry)
    rule = PurgeRule(repository=REPO, keep=args.keep)
    builds_kept = sorted(b for b, d in day.builds.items() if d in set(done.after.values()))
    print(f"purge: {rule.command()}")
    print(
        f"{args.builds} builds {min(day.builds)}-{max(day.builds)}; releases {', '.join(sorted(day.released))};"
        f" main and latest on {day.main}; develop on {day.develop}; the app pinned on {day.running}"
    )
    print(
        f"tags {len(done.before)} -> {len(done.after)} ({len(done.selection.tags)} build ids chosen;"
        f" {len(done.tags_left)} of them stay, on images another tag holds: docker-registry deletes no tag"
        " alone, ACR does)"
    )
    print(
        f"images {len(set(done.before.values()))} -> {len(set(done.after.values()))}"
        f" ({len(done.selection.manifests)} deleted); builds kept: {builds_kept}"
    )
    print(f"layer bytes named {before_bytes / MIB:.1f} MiB -> {after_bytes / MIB:.1f} MiB")
    print(f"registry storage {disk_before / MIB:.1f} MiB -> {disk_after / MIB:.1f} MiB after garbage-collect")
    print(f"purge took {seconds:.2f} s over the registry API")
    return 0


if __name__ == "__main__":
    sys.exit(main())
