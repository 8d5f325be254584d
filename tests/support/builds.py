"""What the project's own build scripts made: the folder a scripts/build-* prints last."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def built_by(script: str) -> Path:
    """The folder a scripts/build-* prints last: built on the first call, cached by go.sum after."""
    out = subprocess.run([str(ROOT / "scripts" / script)], capture_output=True, text=True, check=False, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/{script} failed: {out.stderr.strip()[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1])
