"""Each team's Azure DevOps side (issue 14): what the venue plan holds, its secrets, its
Kubernetes rights, the naming rules, and azdoManage: false leaving everything as it was."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from components import naming
from infra.stack_config import ConfigError
from infra.stack_files import PLACEHOLDER
from offline import recording, render
from offline.mocks import SECRET_MARK
from offline.plan import Plan
from ops import handout

FIXTURES = Path(__file__).parent / "fixtures"
AZDO = "azuredevops:index/"
PER_TEAM = {
    f"{AZDO}project:Project": 1,
    f"{AZDO}git:Git": 2,  # MvcMusicStore, imported from appSourceUrl, and musicstore-toolkit
    f"{AZDO}pool:Pool": 1,
    f"{AZDO}queue:Queue": 1,
    f"{AZDO}serviceEndpointDockerRegistry:ServiceEndpointDockerRegistry": 1,
    f"{AZDO}serviceEndpointKubernetes:ServiceEndpointKubernetes": 1,
    f"{AZDO}variableGroup:VariableGroup": 1,
    f"{AZDO}buildDefinition:BuildDefinition": 1,
    f"{AZDO}environment:Environment": 1,
    f"{AZDO}checkApproval:CheckApproval": 1,
    # The pipeline's own authorisation on its queue, both connections, the variable group, the
    # environment and the app's repository: what azure-pipelines.yml uses on its first run.
    f"{AZDO}pipelineAuthorization:PipelineAuthorization": 6,
}
# What the feature adds: the azuredevops objects and their provider, and the two components.
NEW_TYPES = ("azuredevops:", "pulumi:providers:azuredevops", "musicstore:azdo:", "musicstore:k8s:PipelineAccess")


def _team_counts(rec: recording.Recording, team: str) -> Counter[str]:
    return Counter(r.type for r in rec.resources.values() if r.name.startswith(f"{team}-devops-"))


def test_the_venue_gives_each_team_its_whole_azure_devops_side(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["venue-ams"]
    teams = [f"team{n:02d}" for n in range(1, 31)]
    for team in teams:
        counts = _team_counts(rec, team)
        assert {t: counts[t] for t in PER_TEAM} == PER_TEAM, team
        repos = {r.plain("name"): r for r in rec.of_type(f"{AZDO}git:Git") if r.name.startswith(f"{team}-")}
        assert repos["MvcMusicStore"].plain("initialization.initType") == "Import"
        check = next(r for r in rec.of_type(f"{AZDO}checkApproval:CheckApproval") if r.name.startswith(f"{team}-"))
        assert check.plain("targetResourceType") == "environment" and check.plain("approvers")
    totals = Counter(r.type for r in rec.resources.values() if r.type.startswith(AZDO))
    print("\nvenue-ams, per team:", {t.split(":")[-1]: n for t, n in PER_TEAM.items()})
    print("venue-ams, in all:", {t.split(":")[-1]: n for t, n in sorted(totals.items())})
    assert all(totals[t] == n * len(teams) for t, n in PER_TEAM.items())


def test_agents_register_into_the_pool_the_stack_makes(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["venue-ams"]
    pools = {r.plain("name") for r in rec.of_type(f"{AZDO}pool:Pool")}
    assert pools == {naming.agent_pool_name("gdbc-{team}", f"team{n:02d}") for n in range(1, 31)}
    outputs = rec.outputs()["teams"]
    assert {t["agentPool"] for t in outputs.values()} == pools


def test_no_azure_devops_secret_input_is_in_clear(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["venue-ams"]
    marks = (SECRET_MARK, PLACEHOLDER.split("{")[0])  # a revealed secret, or a placeholder in clear
    leaks = [
        (r.type, r.name, s)
        for r in rec.resources.values()
        if r.type.startswith(("azuredevops:", "pulumi:providers:azuredevops"))
        for s in recording.clear_strings(r.inputs)
        if any(mark in s for mark in marks)
    ]
    assert leaks == []
    [provider] = rec.of_type("pulumi:providers:azuredevops")
    assert provider.masked_inputs()["personalAccessToken"] == recording.SECRET_MARKER
    for docker in rec.of_type(f"{AZDO}serviceEndpointDockerRegistry:ServiceEndpointDockerRegistry"):
        assert docker.masked_inputs()["dockerPassword"] == recording.SECRET_MARKER
    for kube in rec.of_type(f"{AZDO}serviceEndpointKubernetes:ServiceEndpointKubernetes"):
        account = recording.mask(kube.inputs)["serviceAccount"]
        if account != recording.SECRET_MARKER:
            assert account["token"] == account["caCert"] == recording.SECRET_MARKER


def test_the_kubernetes_connection_account_has_no_cluster_role_binding(
    stack_runs: dict[str, recording.Recording],
) -> None:
    rec = stack_runs["venue-ams"]
    assert rec.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding") == []
    assert rec.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole") == []
    bindings = rec.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    assert len(bindings) == 30
    for binding in bindings:
        namespace = binding.plain("metadata.namespace")
        assert binding.plain("roleRef.kind") == "Role"
        [subject] = binding.plain("subjects")
        assert (subject["kind"], subject["namespace"]) == ("ServiceAccount", namespace)
    for kube in rec.of_type(f"{AZDO}serviceEndpointKubernetes:ServiceEndpointKubernetes"):
        assert kube.plain("authorizationType") == "ServiceAccount"


@pytest.mark.parametrize(
    ("overrides", "key", "value", "rule"),
    [
        ({"teams": '["con"]'}, "teams[0]", '"con"', "con is a name Azure DevOps reserves"),
        ({"azdoProject": "music/store"}, "azdoProject", '"music/store"', "may not contain '/'"),
        ({"agentPoolName": "_{team}"}, "agentPoolName", '"_{team}"', "may not start with '_' or '.'"),
    ],
    ids=["reserved-team-name", "project-character", "pool-leading-underscore"],
)
def test_a_name_azure_devops_refuses_fails_before_any_resource(
    overrides: dict[str, str], key: str, value: str, rule: str
) -> None:
    registered: list[int] = []
    with pytest.raises(ConfigError) as failure:
        recording.run("dev", overrides=overrides, on_register=registered.append)
    message = str(failure.value)
    assert failure.value.key == f"musicstore:{key}"
    assert value in message and rule in message and "\n" not in message
    assert registered == []


PURGE_TASK = "azure-native:containerregistry:Task"


def _off_fixture(stack: str) -> dict[str, object]:
    # Made by the code before issue 14 (commit 61bbcb4) from the same stack files: its plan's
    # URNs and its handout for every team.
    return dict(json.loads((FIXTURES / f"azdo-off-{stack}.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("stack", ["dev", "venue-ams"])
def test_azdo_manage_false_gives_todays_resources_and_handout(
    stack: str, stack_runs: dict[str, recording.Recording]
) -> None:
    before = _off_fixture(stack)
    # The fixture predates the registries' purge, which has nothing to do with Azure DevOps.
    off = recording.run(stack, overrides={"azdoManage": "false", "registryPurge": "false"})
    assert sorted(off.resources) == before["urns"]
    sheets = handout.sheets(stack, recording.mask(off.stack_outputs), show_passwords=False)
    assert "".join(handout.markdown(s) for s in sheets) + handout.table(sheets) == before["handout"]
    on = stack_runs[stack]
    assert (
        sorted(
            u
            for u, r in on.resources.items()
            if not r.type.startswith(NEW_TYPES) and "PipelineAccess" not in u and r.type != PURGE_TASK
        )
        == before["urns"]
    )


def test_the_handout_says_what_is_done_and_asks_for_no_service_connection(
    stack_runs: dict[str, recording.Recording],
) -> None:
    [sheet] = handout.sheets("dev", recording.mask(stack_runs["dev"].stack_outputs), show_passwords=False)
    text = handout.markdown(sheet)
    assert "https://dev.azure.com/gdbc-bootcamp/team1/_git/MvcMusicStore" in text
    assert "_build?definitionId=" in text and "Already done for you" in text
    assert "create a Docker Registry service connection" not in text


def _group(rec: recording.Recording, team: str) -> dict[str, object]:
    [group] = [r for r in rec.of_type(f"{AZDO}variableGroup:VariableGroup") if r.name.startswith(f"{team}-")]
    return {v["name"]: v.get("value") for v in group.plain("variables")}


def test_the_variable_group_holds_what_the_pipeline_reads(stack_runs: dict[str, recording.Recording]) -> None:
    pipeline = (Path(__file__).parent.parent / "azure-pipelines.yml").read_text()
    group = _group(stack_runs["dev"], "team1")
    assert group["agentPool"] == "gdbc-team1" and group["namespace"] == "musicstore-team1"
    assert str(group["registryLoginServer"]).endswith(".azurecr.io")
    # Without pulumiBackendUrl the release's backend is left to the organizer, as documented.
    assert "pulumiBackendUrl" not in group and "$(pulumiBackendUrl)" in pipeline
    backend = "azblob://state?storage_account=gdbcstate"
    rec = recording.run("dev", overrides={"pulumiBackendUrl": backend})
    assert _group(rec, "team1")["pulumiBackendUrl"] == backend
    read = set(re.findall(r"\$\((\w+)\)", pipeline))
    assert {"agentPool", "registryLoginServer", "pulumiBackendUrl"} <= read
    assert read - {"version", "repository", "imageDigest", "appBranch", "databaseConnectionString"} <= set(
        _group(rec, "team1")
    )


@pytest.mark.parametrize("backend", ["file:///home/organizer/state", "azblob:// state"])
def test_a_backend_the_release_agent_cannot_reach_is_refused(backend: str) -> None:
    with pytest.raises(ConfigError) as failure:
        recording.run("dev", overrides={"pulumiBackendUrl": backend})
    assert failure.value.key == "musicstore:pulumiBackendUrl" and "azblob://" in str(failure.value)


def test_each_agent_registers_only_after_its_teams_pool_exists(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["venue-ams"]
    pools = {
        r.name.removesuffix("-devops-pool"): urn for urn, r in rec.resources.items() if r.type == f"{AZDO}pool:Pool"
    }
    extensions = rec.of_type("azure-native:compute:VirtualMachineExtension")
    assert len(extensions) == 30
    for extension in extensions:
        team = extension.name.split("-agent")[0]
        assert pools[team] in extension.dependencies, extension.name


def test_the_provider_manages_with_its_own_token_never_the_agents(stack_runs: dict[str, recording.Recording]) -> None:
    # Every agent VM can read the agents' PAT from its Key Vault: it must not manage projects.
    for stack in ("dev", "venue-ams"):
        [provider] = stack_runs[stack].of_type("pulumi:providers:azuredevops")
        token = provider.plain("personalAccessToken")
        assert token == PLACEHOLDER.format(key="musicstore:azdoAdminPat"), stack
        assert token != PLACEHOLDER.format(key="musicstore:azdoPat")


def test_the_pipeline_is_authorised_on_what_its_file_uses(stack_runs: dict[str, recording.Recording]) -> None:
    rec = stack_runs["dev"]
    team = [r for r in rec.resources.values() if r.name.startswith("team1-devops-")]
    by_urn = {r.urn: r for r in team}
    kinds = {}
    for auth in (r for r in team if r.type == f"{AZDO}pipelineAuthorization:PipelineAuthorization"):
        kinds[auth.plain("type")] = kinds.get(auth.plain("type"), 0) + 1
        assert auth.plain("pipelineId"), auth.name  # never open to every pipeline
        if auth.plain("type") == "repository":
            # The provider prefixes "<project id>." itself (resource_pipeline_authorization.go).
            repo_id = auth.plain("resourceId")
            assert "." not in repo_id
            [repo] = [r for r in team if r.type == f"{AZDO}git:Git" and r.plain("name") == "MvcMusicStore"]
            assert repo.urn in auth.dependencies and repo.urn in by_urn
    assert kinds == {"queue": 1, "endpoint": 2, "variablegroup": 1, "environment": 1, "repository": 1}
    pipeline = (Path(__file__).parent.parent / "azure-pipelines.yml").read_text()
    for used in ("musicstore-dev-registry", "group: musicstore", "environment: musicstore-prod", "name: MvcMusicStore"):
        assert used in pipeline


def test_an_existing_project_is_looked_up_not_made() -> None:
    rec = recording.run("dev", overrides={"azdoProject": "Bootcamp"})
    assert rec.of_type(f"{AZDO}project:Project") == []
    repos = rec.of_type(f"{AZDO}git:Git")
    assert len(repos) == 2 and all(r.plain("projectId") for r in repos)
    [sheet] = handout.sheets("dev", recording.mask(rec.stack_outputs), show_passwords=False)
    assert "https://dev.azure.com/gdbc-bootcamp/Bootcamp/_git/MvcMusicStore" in handout.markdown(sheet)


def test_a_self_hosted_parallel_job_per_team_is_priced_by_the_month(stack_plans: dict[str, Plan]) -> None:
    report = stack_plans["venue-ams"].cost
    [jobs] = [line for line in report.lines if line.meter == "azdo/self-hosted-parallel-job"]
    assert jobs.quantity == 29  # 30 teams' pipelines at once, the organization's first job free
    assert jobs.monthly == pytest.approx(29 * 15.0)
    # Bought for a month: an 8-hour session costs the month, not 8/730 of it.
    assert jobs.session(report.session_hours) == pytest.approx(435.0)
    assert all(line.monthly in (0, None) for line in report.lines if line.resource.endswith("-devops-pool"))


def test_the_handout_says_who_pushes_the_toolkit_and_what_the_release_needs(
    stack_plans: dict[str, Plan],
) -> None:
    def text(rec: recording.Recording) -> str:
        [sheet] = handout.sheets("dev", recording.mask(rec.stack_outputs), show_passwords=False)
        return handout.markdown(sheet)

    empty = text(stack_plans["dev"].recording)  # dev sets no toolkitSourceUrl
    assert "Your organizer pushes the toolkit" in empty and "and the pipeline runs." not in empty
    assert [f.rule for f in stack_plans["dev"].findings if f.rule == "toolkit-not-imported"]
    imported = recording.run("dev", overrides={"toolkitSourceUrl": "https://github.com/gdbc/musicstore-toolkit.git"})
    assert "Push to `main` or `develop` of MvcMusicStore and the pipeline runs." in text(imported)
    assert "`musicstore-azure`" in empty and "databaseConnectionString" in empty


def test_the_handout_table_carries_the_azure_devops_links(stack_runs: dict[str, recording.Recording]) -> None:
    sheets = handout.sheets("venue-ams", recording.mask(stack_runs["venue-ams"].stack_outputs), show_passwords=False)
    rows = handout.table(sheets).splitlines()
    assert rows[0].endswith(",project_url,repository_url,pipeline_url") and len(rows) == 31
    assert "https://dev.azure.com/gdbc-amsterdam/team07/_git/MvcMusicStore" in rows[7]


@pytest.mark.parametrize("stack", ["dev", "venue-ams"])
def test_the_plans_json_holds_no_secret_in_clear(stack: str, stack_plans: dict[str, Plan]) -> None:
    """The plan's JSON, as `musicstore plan --json` writes it: every resource's inputs and the
    outputs, the Azure DevOps provider's PAT, registry passwords and account tokens included."""
    text = json.dumps(render.document(stack_plans[stack]))
    assert SECRET_MARK not in text and PLACEHOLDER.split("{")[0] not in text
    resources = json.loads(text)["resources"]
    azdo = [r for r in resources if r["type"].startswith(("azuredevops:", "pulumi:providers:azuredevops"))]
    assert len(azdo) > 10 and "[secret]" in json.dumps(azdo)
