"""The workflows, the Azure pipeline and the Dockerfile, checked offline by their ecosystems'
tools (each also fed a broken copy), and the rules they must keep."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import stack_files
from infra.stack_config import StackConfig
from ops import dockerfile_check, pr_comment, secrets, teardown_gate

ROOT = stack_files.ROOT
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TOOLS = {
    name: shutil.which(name, path=str(BIN)) for name in ("actionlint", "shellcheck", "check-jsonschema", "hadolint")
}
needs_tools = pytest.mark.skipif(not all(TOOLS.values()), reason="scripts/bootstrap installs requirements-dev.txt")


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def workflow(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    return data


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def scripts_of(*documents: dict[str, Any]) -> str:
    """Every `run:` script of the workflows given."""
    return "\n".join(step.get("run", "") for doc in documents for job in doc["jobs"].values() for step in steps_of(job))


# --- the checkers, on the real files and on broken copies ---------------------------------


@needs_tools
def test_actionlint_with_shellcheck_passes_the_workflows() -> None:
    done = run("actionlint", "-shellcheck", str(TOOLS["shellcheck"]), *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


@needs_tools
def test_actionlint_passes_the_composite_action_steps(tmp_path: Path) -> None:
    # actionlint reads workflows only: the composite's steps are checked inside one.
    action = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    steps = [
        {k: v for k, v in s.items() if k != "shell"} | ({"shell": s["shell"]} if "shell" in s else {})
        for s in action["runs"]["steps"]
    ]
    text = json.dumps({"on": "push", "jobs": {"setup": {"runs-on": "ubuntu-24.04", "steps": steps}}})
    text = text.replace("inputs.cloud", "github.event_name")
    path = tmp_path / ".github" / "workflows" / "composite.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    done = run("actionlint", "-shellcheck", str(TOOLS["shellcheck"]), str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_tools
def test_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    broken.write_text(text.replace("runs-on: ubuntu-24.04", "runs-on: ${{ github.nope }}", 1) + "\n")
    shell = tmp_path / "shell.yml"
    shell.write_text(
        text.replace(
            "run: pulumi up --stack dev", 'run: cd $(dirname "$0") && echo $UNQUOTED_VAR; pulumi up --stack dev', 1
        )
    )
    for path in (broken, shell):
        done = run("actionlint", "-shellcheck", str(TOOLS["shellcheck"]), str(path), cwd=tmp_path)
        assert done.returncode == 1, path.name


@needs_tools
@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflows_match_the_github_schema(path: Path) -> None:
    done = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(path))
    assert done.returncode == 0, done.stdout


@needs_tools
def test_the_github_schema_fails_a_broken_workflow(tmp_path: Path) -> None:
    data = workflow("teardown.yml")
    data["jobs"]["select"]["runs-on"] = {"not": "a runner"}
    del data["jobs"]["destroy"]["steps"]
    broken = tmp_path / "teardown.yml"
    broken.write_text(yaml.safe_dump(data))
    assert run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken)).returncode == 1


@needs_tools
def test_the_composite_action_matches_its_schema() -> None:
    path = ROOT / ".github" / "actions" / "setup" / "action.yml"
    done = run("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(path))
    assert done.returncode == 0, done.stdout


@needs_tools
def test_azure_pipeline_matches_its_schema(tmp_path: Path) -> None:
    schema = ("--builtin-schema", "vendor.azure-pipelines", "--regex-variant", "nonunicode")
    done = run("check-jsonschema", *schema, str(ROOT / "azure-pipelines.yml"))
    assert done.returncode == 0, done.stdout
    broken = tmp_path / "azure-pipelines.yml"
    broken.write_text((ROOT / "azure-pipelines.yml").read_text().replace("stages:\n", "stagez:\n", 1))
    assert run("check-jsonschema", *schema, str(broken)).returncode == 1


@needs_tools
def test_hadolint_passes_the_dockerfile_and_fails_a_broken_one(tmp_path: Path) -> None:
    done = run("hadolint", str(ROOT / "app" / "Dockerfile"))
    assert done.returncode == 0, done.stdout
    broken = tmp_path / "Dockerfile"
    text = (ROOT / "app" / "Dockerfile").read_text()
    broken.write_text(
        text.replace("FROM ${RUNTIME_IMAGE}", "FROM mcr.microsoft.com/windows/servercore:latest\nRUN cd C:\\src", 1)
    )
    done = run("hadolint", str(broken))
    assert done.returncode == 1 and "DL3007" in done.stdout and "DL3003" in done.stdout


# --- what the workflows do -------------------------------------------------------------------


def test_workflows_call_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/plan dev" in readme and "scripts/test" in readme
    pull_request = workflow("pull-request.yml")
    assert "scripts/test" in scripts_of(pull_request)
    assert 'scripts/plan "$STACK"' in scripts_of(pull_request)


def test_workflows_name_only_stacks_that_exist() -> None:
    stacks = stack_files.stacks()
    named = set()
    for path in WORKFLOWS:
        data = yaml.safe_load(path.read_text())
        for job in data["jobs"].values():
            matrix = job.get("strategy", {}).get("matrix", {}).get("stack")
            if isinstance(matrix, list):
                named |= set(matrix)
        named |= set(re.findall(r"--stack (\w+)", path.read_text()))
    assert named and named <= set(stacks)


def pr_matrix_stacks(root: Path, scratch: Path) -> list[str]:
    """What the pull request's `stacks` job puts in the matrix, run as the runner would, in `root`;
    its output file goes to `scratch`, never into the project."""
    jobs = workflow("pull-request.yml")["jobs"]
    script = next(s["run"] for s in jobs["stacks"]["steps"] if s.get("id") == "find")
    output = scratch / "github_output"
    output.write_text("")
    subprocess.run(["bash", "-c", script], cwd=root, env={**os.environ, "GITHUB_OUTPUT": str(output)}, check=True)
    found = dict(line.split("=", 1) for line in output.read_text().splitlines())
    for job in ("plan", "preview"):
        assert jobs[job]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    stacks: list[str] = json.loads(found["stacks"])
    return stacks


def test_the_pull_request_matrix_is_every_stack_file(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert pr_matrix_stacks(ROOT, scratch) == stack_files.stacks()
    # A new venue is a copied file and nothing else.
    for path in ROOT.glob("Pulumi*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    new = next(f"venue-new{n}" for n in range(100) if f"venue-new{n}" not in stack_files.stacks())
    (tmp_path / f"Pulumi.{new}.yaml").write_text((ROOT / "Pulumi.venue-ams.yaml").read_text())
    assert pr_matrix_stacks(tmp_path, scratch) == sorted([*stack_files.stacks(), new])
    assert stack_files.stacks(tmp_path) == pr_matrix_stacks(tmp_path, scratch)


def test_every_stack_gets_an_offline_plan_without_secrets() -> None:
    plan = workflow("pull-request.yml")["jobs"]["plan"]
    assert plan["needs"] == "stacks"
    text = json.dumps(plan)
    assert "secrets." not in text and "vars." not in text and "id-token" not in text
    assert "if" not in plan  # forks included


def test_preview_needs_the_repository_login_and_comments_within_the_limit() -> None:
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert preview["permissions"]["id-token"] == "write"
    assert "musicstore pr-comment" in scripts_of({"jobs": {"p": preview}})


def test_a_long_preview_is_cut_under_githubs_comment_limit() -> None:
    text = "\n".join(f"+ azure-native:compute:VirtualMachine team{i}-agent1 create" for i in range(5000))
    body = pr_comment.comment("pulumi preview of dev", text, full_text_at="the run")
    assert len(body) < pr_comment.LIMIT
    assert body.startswith("### pulumi preview of dev") and "more lines left out" in body
    short = pr_comment.comment("plan", "one line")
    assert "left out" not in short and "one line" in short


def test_merges_deploy_dev_then_prod_behind_its_environment() -> None:
    deploy = workflow("deploy.yml")
    assert deploy[True]["push"]["branches"] == ["main"]  # YAML reads `on` as True
    jobs = deploy["jobs"]
    assert jobs["prod"]["needs"] == "dev" and jobs["prod"]["environment"] == "prod"
    assert "pulumi up --stack dev" in scripts_of({"jobs": {"dev": jobs["dev"]}})
    assert "pulumi up --stack prod" in scripts_of({"jobs": {"prod": jobs["prod"]}})
    assert deploy["permissions"]["id-token"] == "write"
    # OpenID Connect: no stored Azure credential; the only stored secrets are the stacks' own.
    stored = set(re.findall(r"secrets\.(\w+)", json.dumps(deploy)))
    assert stored == {"AZDO_PAT", "AZDO_ADMIN_PAT", "DATABASE_CONNECTION_STRING"}
    assert "ARM_CLIENT_SECRET" not in json.dumps(deploy)


def test_the_virtualenv_is_created_and_cached_explicitly() -> None:
    action = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    steps = action["runs"]["steps"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".venv" and "requirements.txt" in cache["with"]["key"]
    assert any(s.get("run") == "scripts/bootstrap" for s in steps)
    assert any(s.get("uses", "").startswith("azure/login@") for s in steps)


# --- teardown ------------------------------------------------------------------------------------


def test_teardown_destroys_only_what_the_gate_selected() -> None:
    teardown = workflow("teardown.yml")
    gate = "\n".join(s.get("run", "") for s in steps_of(teardown["jobs"]["select"]))
    assert 'musicstore gate "$STACK" --confirm "$CONFIRM"' in gate
    assert "musicstore gate --expired" in gate
    destroying = [
        name for name, job in teardown["jobs"].items() if "pulumi destroy" in scripts_of({"jobs": {name: job}})
    ]
    assert destroying == ["destroy"]
    destroy = teardown["jobs"]["destroy"]
    assert destroy["needs"] == "select"
    assert destroy["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.select.outputs.stacks) }}"
    assert "${{ inputs" not in scripts_of(teardown)  # inputs reach scripts through env only


def gate_config(stack: str = "dev", **changes: Any) -> StackConfig:
    from dataclasses import replace

    return replace(teardown_gate.load(stack), **changes)


def test_teardown_on_demand_needs_the_typed_confirmation() -> None:
    dev = gate_config()
    assert teardown_gate.on_demand(dev, "destroy dev").allowed
    for wrong in ("", "yes", "destroy prod", "destroy  dev", "DESTROY DEV"):
        assert not teardown_gate.on_demand(dev, wrong).allowed


def test_teardown_on_schedule_needs_a_passed_expiry() -> None:
    now = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    assert not teardown_gate.on_schedule(gate_config(expires_at=None), now).allowed
    assert not teardown_gate.on_schedule(gate_config(expires_at=datetime(2026, 11, 21, 19, 0, tzinfo=UTC)), now).allowed
    assert teardown_gate.on_schedule(gate_config(expires_at=datetime(2026, 11, 21, 17, 0, tzinfo=UTC)), now).allowed


def test_teardown_refuses_prod_unless_its_config_allows_it() -> None:
    prod = teardown_gate.load("prod")
    assert prod.teardown_allowed is False
    verdict = teardown_gate.on_demand(prod, "destroy prod")
    assert not verdict.allowed and "teardownAllowed: false" in verdict.reason
    past = datetime(2020, 1, 1, tzinfo=UTC)
    assert not teardown_gate.on_schedule(
        gate_config("prod", expires_at=past), datetime(2026, 12, 1, tzinfo=UTC)
    ).allowed
    unguarded = gate_config("prod", teardown_allowed=True)
    assert not teardown_gate.on_demand(unguarded, "destroy prod").allowed  # still protected
    assert teardown_gate.on_demand(unguarded, "destroy prod", allow_protected=True).allowed
    assert teardown_gate.on_demand(
        gate_config("prod", teardown_allowed=True, protect_resources=False), "destroy prod"
    ).allowed


def ended(moment: datetime) -> list[str]:
    """The committed stacks whose expiresAt has passed at `moment` (every one may be torn down)."""
    return [s for s in stack_files.stacks() if (end := teardown_gate.load(s).expires_at) and end <= moment]


def test_the_gate_writes_the_destroy_matrix_as_the_workflow_reads_it(tmp_path: Path) -> None:
    # The clock is given: the committed venue is judged an hour before and an hour after its end.
    venue_ends = teardown_gate.load("venue-ams").expires_at
    assert venue_ends is not None
    output = tmp_path / "github_output"
    assert teardown_gate.main(["dev", "--confirm", "destroy dev", "--github-output", str(output)]) == 0
    assert teardown_gate.main(["prod", "--confirm", "destroy prod", "--github-output", str(output)]) == 3
    before, after = venue_ends - timedelta(hours=1), venue_ends + timedelta(hours=1)
    assert teardown_gate.main(["--expired", "--github-output", str(output)], now=before) == 0
    assert teardown_gate.main(["--expired", "--github-output", str(output)], now=after) == 0
    assert ended(before) == [] and "venue-ams" in ended(after)
    assert output.read_text().splitlines() == [
        'stacks=["dev"]',
        "stacks=[]",
        f"stacks={json.dumps(ended(before))}",
        f"stacks={json.dumps(ended(after))}",
    ]


# --- the Windows version -------------------------------------------------------------------


def test_dockerfile_and_every_stack_agree_on_the_windows_release() -> None:
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    assert dockerfile_check.problems(dockerfile, dockerfile_check.stack_configs()) == []


def test_a_dockerfile_on_another_release_is_caught() -> None:
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    ltsc2025 = dockerfile.replace(
        "sdk:4.8.1-windowsservercore-ltsc2022", "sdk:4.8.1-windowsservercore-ltsc2025"
    ).replace("aspnet:4.8.1-windowsservercore-ltsc2022", "aspnet:4.8.1-windowsservercore-ltsc2025")
    found = dockerfile_check.problems(ltsc2025, dockerfile_check.stack_configs())
    assert "stack dev runs the app as ltsc2022, app/Dockerfile builds ltsc2025" in found
    assert "stack prod has no Windows pool for ltsc2025 (pools: Windows2022)" in found
    mixed = dockerfile.replace("aspnet:4.8.1-windowsservercore-ltsc2022", "aspnet:4.8.1-windowsservercore-ltsc2025")
    assert "not a pair of APP_BASE_IMAGES" in dockerfile_check.problems(mixed, dockerfile_check.stack_configs())[0]


def test_a_stack_on_another_release_is_caught() -> None:
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    configs = dockerfile_check.stack_configs()
    from dataclasses import replace

    configs["prod"] = replace(configs["prod"], app=replace(configs["prod"].app, windows_version="ltsc2025"))
    assert dockerfile_check.problems(dockerfile, configs) == [
        "stack prod runs the app as ltsc2025, app/Dockerfile builds ltsc2022"
    ]


# --- the secrets every preview and deployment needs ------------------------------------------


def required_secret_variables() -> set[str]:
    """SECRET_<KEY> of every secret some committed stack needs and no stack file holds."""
    keys = {key for stack in stack_files.stacks() for key in secrets.needed(stack)}
    assert keys, "the committed stacks need secrets (no stack file commits one)"
    return {secrets.variable(key) for key in keys}


def test_every_workflow_job_that_previews_or_deploys_sets_each_required_secret_first() -> None:
    wanted = required_secret_variables()
    checked = 0
    for name in ("pull-request.yml", "deploy.yml"):
        for job in workflow(name)["jobs"].values():
            steps = steps_of(job)
            runs = [s.get("run", "") for s in steps]
            pulumi_at = [i for i, run in enumerate(runs) if re.search(r"\bpulumi (preview|up)\b", run)]
            if not pulumi_at:
                continue
            setters = [i for i, run in enumerate(runs) if "musicstore secrets" in run]
            assert setters and setters[0] < pulumi_at[0], f"{name}: {job.get('name', job)} sets no secret first"
            assert wanted <= set(steps[setters[0]].get("env", {})), f"{name}: a secret has no variable"
            checked += 1
    assert checked == 3  # the preview, and the dev and prod deployments


def test_the_release_pipeline_sets_prods_secrets_before_its_up() -> None:
    pipeline = (ROOT / "azure-pipelines.yml").read_text()
    release = pipeline[pipeline.index("musicstore secrets prod") :]
    assert "pulumi up --stack prod" in release  # the secrets are set before the up
    wanted = {secrets.variable(k) for k in secrets.needed("prod")}
    assert wanted and wanted <= set(re.findall(r"(SECRET_[A-Z]+):", release))


def app_repository(pipeline: dict[str, Any]) -> dict[str, Any]:
    """The repository resource the build checks out into app/src: the app's source."""
    build = next(s for s in pipeline["stages"] if s["stage"] == "Build")
    steps = [step for job in build["jobs"] for step in job["steps"]]
    alias = next(s["checkout"] for s in steps if "checkout" in s and str(s.get("path", "")).endswith("app/src"))
    repos = pipeline["resources"]["repositories"]
    found: dict[str, Any] = next(r for r in repos if r["repository"] == alias)
    return found


def test_the_pipeline_runs_on_the_apps_branches_not_the_toolkits() -> None:
    pipeline = yaml.safe_load((ROOT / "azure-pipelines.yml").read_text())
    assert pipeline["trigger"] == "none" and pipeline["pr"] == "none"
    app = app_repository(pipeline)
    # Azure Pipelines triggers on a repository resource only when it is Azure Repos Git.
    assert app["type"] == "git"
    assert set(app["trigger"]["branches"]["include"]) >= {"main", "develop"}


def test_branch_tags_come_from_the_apps_branch() -> None:
    text = (ROOT / "azure-pipelines.yml").read_text()
    pipeline = yaml.safe_load(text)
    alias = app_repository(pipeline)["repository"]
    branch_args = re.findall(r"'--branch',\s*'\$\((\w+)\)'", text)
    assert len(branch_args) == 1
    build = next(s for s in pipeline["stages"] if s["stage"] == "Build")
    assert build["variables"][branch_args[0]] == f"$[ resources.repositories['{alias}'].ref ]"


@pytest.mark.parametrize(
    ("name", "job", "command"), [("deploy.yml", "dev", "pulumi up"), ("teardown.yml", "destroy", "pulumi destroy")]
)
def test_agents_are_started_before_their_extensions_are_updated_or_deleted(name: str, job: str, command: str) -> None:
    # Azure refuses to change a VM extension on a deallocated VM, as the nightly shutdown leaves it.
    runs = [step.get("run", "") for step in steps_of(workflow(name)["jobs"][job])]
    started = [i for i, run in enumerate(runs) if re.search(r"\bmusicstore agents start\b", run)]
    changed = [i for i, run in enumerate(runs) if command in run]
    assert started and changed and started[0] < changed[0], runs


def test_an_unreadable_stack_file_is_reported_and_the_other_expired_venues_still_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in ROOT.glob("Pulumi*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "Pulumi.venue-bad.yaml").write_text("config:\n  musicstore:teams: [unclosed\n")
    venue_ends = teardown_gate.load("venue-ams").expires_at
    assert venue_ends is not None
    output = tmp_path / "github_output"
    status = teardown_gate.main(
        ["--expired", "--github-output", str(output)], now=venue_ends + timedelta(hours=1), root=tmp_path
    )
    assert status == 4
    assert output.read_text() == f"stacks={json.dumps(ended(venue_ends + timedelta(hours=1)))}\n"
    assert "venue-ams" in output.read_text()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("venue-bad: kept, unreadable: error:")


# --- the app's source, as the Dockerfile reads it --------------------------------------------

SOURCE_TREE = Path(__file__).parent / "fixtures" / "mvcmusicstore-tree.txt"


def source_tree() -> tuple[str, list[str]]:
    """The default appSourceUrl named in the listing's header, and its files."""
    header, *files = SOURCE_TREE.read_text().splitlines()
    return header, files


def copy_sources(dockerfile: str, app_dir: str) -> list[str]:
    """The build stage's COPY sources, relative to the source checkout (the context's src/)."""
    build = dockerfile[: dockerfile.index("\nFROM ${RUNTIME_IMAGE}")]
    sources = [line.split()[1] for line in build.splitlines() if line.startswith("COPY ")]
    return [s.replace("${APP_DIR}", app_dir).removeprefix("src/") for s in sources]


def test_the_dockerfile_builds_the_default_source_as_it_is_laid_out() -> None:
    header, files = source_tree()
    default_url = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]["appSourceUrl"]["default"]
    assert default_url in header
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    app_dir = re.search(r"^ARG APP_DIR=(\S+)$", dockerfile, re.M)
    assert app_dir
    sources = copy_sources(dockerfile, app_dir[1])
    assert sources and all(s.startswith(app_dir[1].removeprefix("src/") + "/MvcMusicStore/") for s in sources)
    for source in sources:
        assert any(f == source or f.startswith(source) for f in files), f"{source} is not in the default source"
    # The pipeline passes the folder of the shallowest MvcMusicStore.csproj: the default's.
    projects = sorted((f for f in files if f.endswith("/MvcMusicStore.csproj")), key=len)
    assert f"src/{projects[0]}" == f"{app_dir[1]}/MvcMusicStore/MvcMusicStore.csproj"


def test_the_root_layout_the_dockerfile_once_read_misses_the_default_source() -> None:
    """APP_DIR=src is the layout the Dockerfile read before (the project at the source's root)."""
    _, files = source_tree()
    sources = copy_sources((ROOT / "app" / "Dockerfile").read_text(), "src")
    assert sources and not [s for s in sources if any(f == s or f.startswith(s) for f in files)]


def test_the_pipeline_passes_the_project_folder_it_finds() -> None:
    text = (ROOT / "azure-pipelines.yml").read_text()
    assert "-Filter MvcMusicStore.csproj" in text
    assert re.search(r"'--build-arg', \"APP_DIR=\$appDir\"", text)


# --- the agent's clean-up --------------------------------------------------------------------


def build_steps() -> list[dict[str, Any]]:
    pipeline = yaml.safe_load((ROOT / "azure-pipelines.yml").read_text())
    build = next(s for s in pipeline["stages"] if s["stage"] == "Build")
    [job] = build["jobs"]
    return list(job["steps"])


def test_every_build_ends_by_cleaning_the_agent_without_failing_for_it() -> None:
    last = build_steps()[-1]
    assert last["condition"] == "always()" and last["continueOnError"] is True
    script = last["inputs"]["script"]
    assert last["inputs"]["errorActionPreference"] == "continue" and script.rstrip().endswith("exit 0")
    assert "docker container prune --force" in script and "docker image prune --force" in script
    # Dangling images only: the pre-pulled base images keep the next build fast.
    prunes = [line for line in script.splitlines() if "prune" in line]
    assert prunes and not [line for line in prunes if re.search(r"\s(-a|--all)\b", line)]


def test_only_a_release_is_tagged_with_its_version() -> None:
    script = next(s for s in build_steps() if s.get("name") == "build")["inputs"]["script"]
    [line] = [line for line in script.splitlines() if "'--version'" in line]
    assert line.strip().startswith("if ($release)") and "'--release'" in line


@needs_tools
def test_the_azure_pipeline_schema_checks_the_clean_up_step(tmp_path: Path) -> None:
    schema = ("--builtin-schema", "vendor.azure-pipelines", "--regex-variant", "nonunicode")
    broken = tmp_path / "azure-pipelines.yml"
    text = (ROOT / "azure-pipelines.yml").read_text()
    assert text.count("errorActionPreference: continue") == 1
    broken.write_text(text.replace("errorActionPreference: continue", "errorActionPreference: sometimes"))
    done = run("check-jsonschema", *schema, str(broken))
    assert done.returncode == 1 and "errorActionPreference" in done.stdout
