"""MusicStoreApp: MvcMusicStore in its own namespace, on the Windows nodes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.annotations import checkov_skips
from components.sql_server import SqlServer, SqlServerArgs

APP_LABEL = "mvcmusicstore"
SECRETS_DIR = "C:\\secrets"
# Checks of checkov that cannot apply to a Windows container, each with its reason; they
# travel as annotations on the workload, next to what they exempt.
WINDOWS_CHECKOV_SKIPS = {
    "CKV_K8S_20": "allowPrivilegeEscalation is a Linux setting; Windows containers ignore it",
    "CKV_K8S_22": "Windows containers cannot have a read-only root filesystem",
    "CKV_K8S_23": "runAsNonRoot is a Linux setting; IIS in the ASP.NET image runs as ContainerAdministrator",
    "CKV_K8S_28": "Linux capabilities do not exist in Windows containers",
    "CKV_K8S_31": "seccomp is a Linux kernel feature; Windows containers have no seccomp profile",
    "CKV_K8S_37": "Linux capabilities do not exist in Windows containers",
    "CKV_K8S_40": "UIDs are a Linux setting; Windows containers run as a named user",
}
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
    # False: pulumi up does not wait for the pods (dev, before its pipeline's first push).
    await_rollout: bool = True


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
        self._create_network_policy(name, namespace)
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

    def _create_network_policy(self, name: str, namespace: k8s.core.v1.Namespace) -> None:
        # Only web traffic reaches the app; its namespace's other pods (SQL Server) take
        # their own policy. Calico enforces both on Linux and Windows nodes.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-web",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="web-ingress", namespace=namespace.metadata.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.labels),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=80, protocol="TCP")]
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_deployment(
        self,
        name: str,
        args: MusicStoreAppArgs,
        namespace: k8s.core.v1.Namespace,
        secret: k8s.core.v1.Secret,
    ) -> k8s.apps.v1.Deployment:
        probe = k8s.core.v1.HTTPGetActionArgs(path="/", port=80)
        skips = pulumi.Output.from_input(args.image).apply(
            lambda image: checkov_skips(
                WINDOWS_CHECKOV_SKIPS
                if "@sha256:" in image
                else {
                    **WINDOWS_CHECKOV_SKIPS,
                    "CKV_K8S_43": "dev runs the branch tag the pipeline pushed; prod runs digests",
                }
            )
        )
        container = k8s.core.v1.ContainerArgs(
            name="web",
            image=args.image,
            # A digest never changes; a tag (dev's branch tag) is checked at every start.
            image_pull_policy=pulumi.Output.from_input(args.image).apply(
                lambda image: "IfNotPresent" if "@sha256:" in image else "Always"
            ),
            ports=[k8s.core.v1.ContainerPortArgs(container_port=80, name="http")],
            # The connection string arrives as a file (app/entrypoint.ps1 writes it into
            # Web.config), never as an environment variable IIS would inherit.
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="db", mount_path=SECRETS_DIR, read_only=True)],
            security_context=k8s.core.v1.SecurityContextArgs(
                windows_options=k8s.core.v1.WindowsSecurityContextOptionsArgs(run_as_user_name="ContainerAdministrator")
            ),
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
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=APP_LABEL,
                namespace=namespace.metadata.name,
                labels=self.labels,
                annotations=skips
                if args.await_rollout
                else skips.apply(lambda a: {**a, "pulumi.com/skipAwait": "true"}),
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                ),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self.labels, annotations=skips),
                    spec=k8s.core.v1.PodSpecArgs(
                        # AKS does not taint Windows nodes: the selector alone keeps the
                        # pods off Linux, and the OS SKU keeps the image on its build.
                        node_selector={"kubernetes.io/os": "windows", "kubernetes.azure.com/os-sku": args.os_sku},
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            windows_options=k8s.core.v1.WindowsSecurityContextOptionsArgs(
                                run_as_user_name="ContainerAdministrator"
                            )
                        ),
                        containers=[container],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="db",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret.metadata.name),
                            )
                        ],
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
