"""The Kubernetes objects of a plan as manifests, for scanners that read YAML.

Each recorded `kubernetes:<group>/<version>:<Kind>` resource becomes the object its inputs
describe, with secrets as "[secret]" (the scanners judge shape, not values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from offline.recording import Recording


def objects(rec: Recording) -> list[dict[str, Any]]:
    found = []
    for reg in sorted(rec.resources.values(), key=lambda r: r.urn):
        if not reg.type.startswith("kubernetes:") or reg.type.startswith("kubernetes:index:"):
            continue
        group_version, kind = reg.type.split(":")[1], reg.type.split(":")[2]
        api_version = group_version.removeprefix("core/")
        body = {k: v for k, v in reg.masked_inputs().items() if k not in ("apiVersion", "kind")}
        found.append({"apiVersion": api_version, "kind": kind, **body})
    return found


def write(rec: Recording, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for i, obj in enumerate(objects(rec)):
        path = directory / f"{i:03d}-{obj['kind'].lower()}-{obj.get('metadata', {}).get('name', 'unnamed')}.yaml"
        path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written
