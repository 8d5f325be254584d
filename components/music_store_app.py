"""MusicStoreApp: MvcMusicStore in its own namespace, on the Windows nodes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.sql_server import SqlServer, SqlServerArgs

APP_LABEL = "mvcmusicstore"
# The first pull of a servercore-based image takes several minutes on a new Windows node,
# more than Kubernetes' default 10-minute wait for a Deployment.
ROLLOUT_TIMEOUT = "30m"


@dataclass(frozen=True)
class MusicStoreAppArgs:
    namespace: str
    team: str
    image: pulumi.Input[str]
    os_sku: str
    replicas: int
    # None runs SQL Server inside the cluster; otherwise the (secret) connection string.
    connection_string: pulumi.Input[str] | None = None
    connection_string_name: str = "MusicStoreEntities"


class MusicStoreApp(pulumi.ComponentResource):
    """Builds the team's namespace, the database connection string as a Kubernetes Secret,
    an optional in-cluster SQL Server, a Deployment pinned to Windows nodes of the image's
    OS SKU with probes, limits and rolling updates, and a LoadBalancer Service. Outputs the
    namespace and the app URL."""

    namespace: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: MusicStoreAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:k8s:MusicStoreApp", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.labels = {"app.kubernetes.io/name": APP_LABEL, "app.kubernetes.io/instance": args.team}
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels={"team": args.team}),
            opts=child,
        )
        connection_string = args.connection_string
        if connection_string is None:
            sql = SqlServer(f"{name}-sql", SqlServerArgs(namespace=namespace.metadata.name), opts=child)
            connection_string = sql.connection_string
        secret = k8s.core.v1.Secret(
            f"{name}-db",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="musicstore-db", namespace=namespace.metadata.name),
            string_data={args.connection_string_name: pulumi.Output.secret(connection_string)},
            opts=child,
        )
        self._create_deployment(name, args, namespace, secret)
        service = k8s.core.v1.Service(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP_LABEL, namespace=namespace.metadata.name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="LoadBalancer",
                # Cluster policy exhausts Windows ports near 500 Services; Local also keeps
                # the client address.
                external_traffic_policy="Local",
                selector=self.labels,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port=80)],
            ),
            opts=child,
        )
        self.namespace = namespace.metadata.name
        self.url = service.status.apply(_service_url)
        self.register_outputs({"namespace": self.namespace, "url": self.url})

    def _create_deployment(
        self,
        name: str,
        args: MusicStoreAppArgs,
        namespace: k8s.core.v1.Namespace,
        secret: k8s.core.v1.Secret,
    ) -> k8s.apps.v1.Deployment:
        probe = k8s.core.v1.HTTPGetActionArgs(path="/", port=80)
        container = k8s.core.v1.ContainerArgs(
            name="web",
            image=args.image,
            ports=[k8s.core.v1.ContainerPortArgs(container_port=80, name="http")],
            env=[
                k8s.core.v1.EnvVarArgs(
                    name=args.connection_string_name,
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                            name=secret.metadata.name, key=args.connection_string_name
                        )
                    ),
                )
            ],
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "2Gi"}
            ),
            # IIS and the ASP.NET compilation make the first request slow on Windows.
            readiness_probe=k8s.core.v1.ProbeArgs(
                http_get=probe, initial_delay_seconds=30, period_seconds=10, timeout_seconds=5, failure_threshold=6
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                http_get=probe, initial_delay_seconds=120, period_seconds=20, timeout_seconds=5, failure_threshold=3
            ),
        )
        return k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP_LABEL, namespace=namespace.metadata.name, labels=self.labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                ),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self.labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        # AKS does not taint Windows nodes: the selector alone keeps the
                        # pods off Linux, and the OS SKU keeps the image on its build.
                        node_selector={"kubernetes.io/os": "windows", "kubernetes.azure.com/os-sku": args.os_sku},
                        containers=[container],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create=ROLLOUT_TIMEOUT, update=ROLLOUT_TIMEOUT)
            ),
        )


def _service_url(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
    if not ingress:
        return ""
    address = ingress[0].ip or ingress[0].hostname or ""
    return f"http://{address}/" if address else ""
