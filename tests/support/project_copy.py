"""A project folder as an organizer's copy of it: the stack files, the program's entry and
app/Dockerfile (the packages come from the installed project), plus one stack file of the test's."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra import stack_files

ROOT = stack_files.ROOT


def copied(folder: Path, stack: str, text: str) -> Path:
    for path in [*ROOT.glob("Pulumi*.yaml"), ROOT / "__main__.py"]:
        shutil.copy(path, folder / path.name)
    (folder / "app").mkdir(exist_ok=True)
    shutil.copy(ROOT / "app" / "Dockerfile", folder / "app" / "Dockerfile")
    (folder / f"Pulumi.{stack}.yaml").write_text(text)
    return folder
