"""The project as Pulumi's processes find it: installed into the venv by requirements.txt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_venv_imports_every_package_from_any_directory() -> None:
    # -I: no working directory and no PYTHONPATH on the path, as in the dynamic-provider host
    # started in another directory; only what requirements.txt installed can be imported.
    probe = "import components, infra, offline, ops, policy, promotion; print(components.__file__)"
    done = subprocess.run([sys.executable, "-I", "-c", probe], cwd="/", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(ROOT)


def test_requirements_install_the_project_itself() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines


def test_no_script_writes_a_path_file() -> None:
    assert [p.name for p in (ROOT / "scripts").iterdir() if ".pth" in p.read_text(errors="replace")] == []
