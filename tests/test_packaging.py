"""The project as Pulumi's processes find it: installed into the venv by requirements.txt, at the
versions of the locks scripts/lock writes."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


# --- the locks --------------------------------------------------------------------------------

# Each lock and the requirements file scripts/lock writes it from.
LOCKS = {
    "requirements-dev.lock": "requirements-dev.txt",
    "requirements.lock": "requirements.txt",
    "requirements-checkov.lock": "requirements-checkov.txt",
}


@dataclass(frozen=True)
class Locked:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> str:
        return next(iter(self.requirement.specifier)).version


def read_lock(name: str) -> dict[str, list[Locked]]:
    """The lock's entries by canonical name, each `name==version ; marker` with its hashes: one, or
    one per Python or platform the resolution forked on (numpy==2.4.6 ; python_full_version < '3.12')."""
    entries: dict[str, list[Locked]] = {}
    for line in (ROOT / name).read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = line.split(" --hash=")
        requirement = Requirement(spec)
        locked = Locked(requirement, tuple(h.strip() for h in hashes))
        entries.setdefault(canonicalize_name(requirement.name), []).append(locked)
    return entries


def named(name: str) -> list[Requirement]:
    """What a requirements file names, through its `-r` files, and `-e .` as pyproject's dependencies."""
    found = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += named(line.removeprefix("-r ").strip())
        elif line == "-e .":
            project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
            found += [Requirement(dependency) for dependency in project["dependencies"]]
        else:
            found.append(Requirement(line))
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_a_lock_pins_every_package_to_one_version_with_the_hashes_of_its_files(lock: str) -> None:
    entries = read_lock(lock)
    assert entries
    for name, entry in ((name, entry) for name, forks in entries.items() for entry in forks):
        assert [s.operator for s in entry.requirement.specifier] == ["=="], f"{lock}: {name} is not pinned"
        assert entry.hashes and all(h.startswith("sha256:") for h in entry.hashes), f"{lock}: {name} has no hash"
    assert "musicstore" not in entries  # the project is installed editable, apart from the lock


@pytest.mark.parametrize(
    ("lock", "requirement"),
    [(lock, requirement) for lock, source in LOCKS.items() for requirement in named(source)],
    ids=lambda value: str(value),
)
def test_a_lock_holds_what_its_requirements_name_at_a_version_they_allow(lock: str, requirement: Requirement) -> None:
    # pyproject's pins (pulumi-kubernetes==4.25.0) included: the lock must not move them.
    forks = read_lock(lock).get(canonicalize_name(requirement.name), [])
    assert forks, f"{lock} has no {requirement.name}: scripts/lock writes it again"
    for entry in forks:
        assert requirement.specifier.contains(entry.version, prereleases=True), (
            f"{lock} holds {entry.requirement}, which {requirement} excludes: scripts/lock writes it again"
        )


def test_the_program_lock_holds_the_versions_the_checks_ran_against() -> None:
    checked = {name: {e.version for e in forks} for name, forks in read_lock("requirements-dev.lock").items()}
    program = {name: {e.version for e in forks} for name, forks in read_lock("requirements.lock").items()}
    assert program == {name: checked.get(name) for name in program}


@pytest.mark.skipif(Path(sys.prefix) != ROOT / ".venv", reason="scripts/bootstrap installs .venv from the lock")
def test_the_venv_holds_the_locked_versions() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wanted = {
        name: entry.version
        for name, forks in read_lock("requirements-dev.lock").items()
        for entry in forks
        if entry.requirement.marker is None or entry.requirement.marker.evaluate()
    }
    assert {name: installed.get(name) for name in wanted} == wanted


def test_loadgroup_keeps_each_xdist_group_on_one_worker(tmp_path: Path) -> None:
    """The engine tests share a deployment per xdist group (`--dist loadgroup`, pyproject.toml):
    with the installed pytest and pytest-xdist, every test of a group runs on the same worker."""
    (tmp_path / "test_groups.py").write_text(
        "import os, pytest\n"
        "pytestmark = pytest.mark.xdist_group('stacks')\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_member(n):\n"
        "    open(f'worker-{n}', 'w').write(os.environ['PYTEST_XDIST_WORKER'])\n"
        "def test_alone():\n"
        "    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {(tmp_path / f"worker-{n}").read_text() for n in range(6)}
    assert len(workers) == 1, workers
