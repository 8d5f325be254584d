"""TeamDevOps: a team's Azure DevOps side, wired so the first pipeline run needs nothing by hand."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuredevops as azdo

from components import naming

APP_REPOSITORY = "MvcMusicStore"  # azure-pipelines.yml's repository resource names it
TOOLKIT_REPOSITORY = "musicstore-toolkit"
PIPELINE_FILE = "azure-pipelines.yml"
# The names azure-pipelines.yml reads: its variable group, service connection and environment.
VARIABLE_GROUP = "musicstore"
REGISTRY_CONNECTION = "musicstore-dev-registry"
KUBERNETES_CONNECTION = "musicstore-kubernetes"
RELEASE_ENVIRONMENT = "musicstore-prod"
APPROVERS_GROUP = "Contributors"


@dataclass(frozen=True)
class TeamDevOpsArgs:
    team: str
    organization_url: str
    project_name: str
    existing_project: bool  # True: the project exists and is only looked up
    app_source_url: str
    toolkit_source_url: str  # empty: the toolkit repository starts empty
    backend_url: str  # empty: the release's backend is added to the variable group by hand
    pool_name: str
    namespace: pulumi.Input[str]
    registry_login_server: pulumi.Input[str]
    registry_username: pulumi.Input[str]
    registry_password: pulumi.Input[str]  # secret
    api_server_url: pulumi.Input[str]
    service_account_token: pulumi.Input[str]  # secret
    service_account_ca_cert: pulumi.Input[str]  # secret


class TeamDevOps(pulumi.ComponentResource):
    """Builds the team's project (or looks up an existing one); the repository MvcMusicStore
    imported from the public source and musicstore-toolkit with the pipeline file; the agent
    pool the team's agents register in and its project queue; the Docker Registry and
    Kubernetes service connections; the variable group the pipeline reads; the build
    definition on the toolkit's azure-pipelines.yml; the release environment with an approval
    by the project's Contributors; and the pipeline's authorisation on each of them. Outputs
    the project, repository and pipeline URLs and the pool."""

    project_url: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    toolkit_url: pulumi.Output[str]
    pipeline_url: pulumi.Output[str]
    pool: azdo.Pool

    def __init__(self, name: str, args: TeamDevOpsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:azdo:TeamDevOps", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project_id = self._project(name, args, child)
        app_repo = self._repository(name, "repo", APP_REPOSITORY, args.app_source_url, project_id, child)
        toolkit_repo = self._repository(
            name, "toolkit-repo", TOOLKIT_REPOSITORY, args.toolkit_source_url, project_id, child
        )
        self.pool = azdo.Pool(
            f"{name}-pool", name=args.pool_name, auto_provision=False, pool_type="automation", opts=child
        )
        queue = azdo.Queue(f"{name}-queue", project_id=project_id, agent_pool_id=self.pool.id.apply(int), opts=child)
        registry = azdo.ServiceEndpointDockerRegistry(
            f"{name}-registry-connection",
            project_id=project_id,
            service_endpoint_name=REGISTRY_CONNECTION,
            registry_type="Others",
            docker_registry=pulumi.Output.concat("https://", args.registry_login_server),
            docker_username=args.registry_username,
            docker_password=pulumi.Output.secret(args.registry_password),
            description="The team registry's admin user (made by the stack)",
            opts=child,
        )
        kubernetes = azdo.ServiceEndpointKubernetes(
            f"{name}-kubernetes-connection",
            project_id=project_id,
            service_endpoint_name=KUBERNETES_CONNECTION,
            apiserver_url=args.api_server_url,
            authorization_type="ServiceAccount",
            service_account=azdo.ServiceEndpointKubernetesServiceAccountArgs(
                token=pulumi.Output.secret(args.service_account_token),
                ca_cert=pulumi.Output.secret(args.service_account_ca_cert),
            ),
            description="Acts only in the team's namespace (a namespaced Role, made by the stack)",
            opts=child,
        )
        variables = {
            "agentPool": args.pool_name,
            "registryLoginServer": args.registry_login_server,
            "namespace": args.namespace,
            "kubernetesConnection": KUBERNETES_CONNECTION,
        }
        if args.backend_url:
            variables["pulumiBackendUrl"] = args.backend_url  # the release's `pulumi login`
        group = azdo.VariableGroup(
            f"{name}-variables",
            project_id=project_id,
            name=VARIABLE_GROUP,
            allow_access=False,
            variables=[azdo.VariableGroupVariableArgs(name=k, value=v) for k, v in variables.items()],
            opts=child,
        )
        pipeline = azdo.BuildDefinition(
            f"{name}-pipeline",
            project_id=project_id,
            name="musicstore",
            agent_pool_name=args.pool_name,
            # The pipeline file is the toolkit's: it checks the toolkit out as `self` and the app
            # repository as a resource, so the definition runs the toolkit's file.
            repository=azdo.BuildDefinitionRepositoryArgs(
                repo_type="TfsGit",
                repo_id=toolkit_repo.id,
                branch_name=toolkit_repo.default_branch,
                yml_path=PIPELINE_FILE,
            ),
            ci_trigger=azdo.BuildDefinitionCiTriggerArgs(use_yaml=True),
            # The pool is named, not referenced: the project's queue for it must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue]),
        )
        environment = azdo.Environment(
            f"{name}-environment", project_id=project_id, name=RELEASE_ENVIRONMENT, opts=child
        )
        contributors = azdo.get_group_output(
            project_id=project_id, name=APPROVERS_GROUP, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        azdo.CheckApproval(
            f"{name}-approval",
            project_id=project_id,
            target_resource_id=environment.id,
            target_resource_type="environment",
            approvers=[contributors.origin_id],
            minimum_required_approvers=1,
            requester_can_approve=False,
            instructions="Release to prod: promotes the tested digest and runs pulumi up -s prod.",
            opts=child,
        )
        authorised = {
            "queue": ("queue", queue.id),
            "registry-connection": ("endpoint", registry.id),
            "kubernetes-connection": ("endpoint", kubernetes.id),
            "variables": ("variablegroup", group.id),
            "environment": ("environment", environment.id),
            # The provider prefixes a repository's id with "<project id>." itself
            # (terraform-provider-azuredevops, resource_pipeline_authorization.go).
            "app-repo": ("repository", app_repo.id),
        }
        for role, (kind, resource_id) in authorised.items():
            azdo.PipelineAuthorization(
                f"{name}-{role}-authorization",
                project_id=project_id,
                resource_id=resource_id,
                type=kind,
                pipeline_id=pipeline.id.apply(int),
                opts=child,
            )
        org, project = args.organization_url, args.project_name
        self.project_url = pulumi.Output.from_input(naming.devops_web_url(org, project, ""))
        self.repository_url = pulumi.Output.from_input(naming.devops_web_url(org, project, f"_git/{APP_REPOSITORY}"))
        self.toolkit_url = pulumi.Output.from_input(naming.devops_web_url(org, project, f"_git/{TOOLKIT_REPOSITORY}"))
        # Imported from toolkitSourceUrl, the toolkit repository holds azure-pipelines.yml; made
        # empty, it does once the organizer pushes the toolkit.
        self.toolkit_imported = bool(args.toolkit_source_url)
        self.pipeline_url = pipeline.id.apply(
            lambda pid: naming.devops_web_url(org, project, f"_build?definitionId={pid}")
        )
        self.register_outputs(
            {
                "project_url": self.project_url,
                "repository_url": self.repository_url,
                "toolkit_url": self.toolkit_url,
                "pipeline_url": self.pipeline_url,
            }
        )

    def _project(self, name: str, args: TeamDevOpsArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        if args.existing_project:
            found = azdo.get_project_output(name=args.project_name, opts=pulumi.InvokeOutputOptions(parent=self))
            existing: pulumi.Output[str] = found.id
            return existing
        project = azdo.Project(
            f"{name}-project",
            name=args.project_name,
            description=f"MvcMusicStore bootcamp, team {args.team} (made by the stack)",
            visibility="private",
            version_control="Git",
            work_item_template="Agile",
            opts=child,
        )
        made: pulumi.Output[str] = project.id
        return made

    def _repository(
        self,
        name: str,
        role: str,
        repo_name: str,
        source: str,
        project_id: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> azdo.Git:
        initialization = (
            azdo.GitInitializationArgs(init_type="Import", source_type="Git", source_url=source)
            if source
            else azdo.GitInitializationArgs(init_type="Clean")
        )
        return azdo.Git(
            f"{name}-{role}", project_id=project_id, name=repo_name, initialization=initialization, opts=child
        )
