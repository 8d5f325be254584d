"""SqlServer: a SQL Server for the app inside the cluster, on the Linux pool."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.annotations import checkov_skips
from components.passwords import generated_password

# Pinned so that a new cumulative update never arrives unannounced in a running class.
SQL_SERVER_IMAGE = "mcr.microsoft.com/mssql/server:2022-CU14-ubuntu-22.04"
DATABASE = "MvcMusicStore"
APP_LABELS = {"app.kubernetes.io/name": "mvcmusicstore"}
CHECKOV_SKIPS = {
    "CKV_K8S_15": "the image is pinned to a cumulative-update tag; IfNotPresent avoids a registry call per start",
    "CKV_K8S_22": "SQL Server writes outside its data volume (/var/opt/mssql/.system, /tmp)",
    "CKV_K8S_35": "the mssql image takes the sa password only from MSSQL_SA_PASSWORD, not from a file",
    "CKV_K8S_43": "dev's in-cluster database; prod uses an external one and runs its images by digest",
}


@dataclass(frozen=True)
class SqlServerArgs:
    namespace: pulumi.Input[str]
    storage_gib: int = 8


class SqlServer(pulumi.ComponentResource):
    """Builds a SQL Server 2022 Deployment on the Linux nodes with a generated `sa` password
    (in a Kubernetes Secret), a persistent volume for its data and a ClusterIP Service, so a
    dev stack works end to end without an external database. Outputs the ADO.NET
    connection string the app uses, as a secret."""

    connection_string: pulumi.Output[str]

    def __init__(self, name: str, args: SqlServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:k8s:SqlServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/name": "mssql", "app.kubernetes.io/part-of": "mvcmusicstore"}
        # No ';', '=' or quotes: the password is spliced into a connection string.
        password = generated_password(f"{name}-sa-password", self, specials="!#%*-_+")
        secret = k8s.core.v1.Secret(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mssql-sa", namespace=args.namespace),
            string_data={"MSSQL_SA_PASSWORD": password},
            opts=child,
        )
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="mssql-data", namespace=args.namespace, annotations={"pulumi.com/skipAwait": "true"}
            ),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name="managed-csi",
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{args.storage_gib}Gi"}),
            ),
            # managed-csi binds on first consumer: waiting for Bound here would deadlock.
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._create_deployment(name, args, labels, secret, claim)
        # Only the app's pods may reach the database.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mssql-ingress", namespace=args.namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=APP_LABELS)
                            )
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=1433, protocol="TCP")],
                    )
                ],
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mssql", namespace=args.namespace),
            spec=k8s.core.v1.ServiceSpecArgs(
                selector=labels, ports=[k8s.core.v1.ServicePortArgs(name="tds", port=1433, target_port=1433)]
            ),
            opts=child,
        )
        self.connection_string = pulumi.Output.secret(
            pulumi.Output.format(
                "Data Source={0}.{1}.svc.cluster.local,1433;Initial Catalog={2};User ID=sa;Password={3};"
                "TrustServerCertificate=True",
                service.metadata.name,
                args.namespace,
                DATABASE,
                password,
            )
        )
        self.register_outputs({"connection_string": self.connection_string})

    def _create_deployment(
        self,
        name: str,
        args: SqlServerArgs,
        labels: dict[str, str],
        secret: k8s.core.v1.Secret,
        claim: k8s.core.v1.PersistentVolumeClaim,
    ) -> k8s.apps.v1.Deployment:
        container = k8s.core.v1.ContainerArgs(
            name="mssql",
            image=SQL_SERVER_IMAGE,
            ports=[k8s.core.v1.ContainerPortArgs(container_port=1433, name="tds")],
            env=[
                k8s.core.v1.EnvVarArgs(name="ACCEPT_EULA", value="Y"),
                k8s.core.v1.EnvVarArgs(name="MSSQL_PID", value="Developer"),
                k8s.core.v1.EnvVarArgs(
                    name="MSSQL_SA_PASSWORD",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                            name=secret.metadata.name, key="MSSQL_SA_PASSWORD"
                        )
                    ),
                ),
            ],
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "250m", "memory": "2Gi"}, limits={"cpu": "1", "memory": "3Gi"}
            ),
            image_pull_policy="IfNotPresent",
            readiness_probe=k8s.core.v1.ProbeArgs(
                tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=1433), initial_delay_seconds=15, period_seconds=10
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=1433),
                initial_delay_seconds=60,
                period_seconds=20,
                failure_threshold=6,
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                run_as_non_root=True,
                run_as_user=10001,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/opt/mssql")],
        )
        return k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="mssql", namespace=args.namespace, labels=labels, annotations=checkov_skips(CHECKOV_SKIPS)
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # One pod owns the ReadWriteOnce volume: the old one must stop first.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations=checkov_skips(CHECKOV_SKIPS)),
                    spec=k8s.core.v1.PodSpecArgs(
                        node_selector={"kubernetes.io/os": "linux"},
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_user=10001,
                            fs_group=10001,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[container],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="data",
                                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                                    claim_name=claim.metadata.name
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
