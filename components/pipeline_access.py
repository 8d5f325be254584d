"""PipelineAccess: what the team's Kubernetes service connection acts as, in its namespace only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

# What a deployment from the pipeline touches in the team's namespace; nothing cluster-wide.
ROLE_RULES = (
    ("", ("pods", "pods/log", "services", "configmaps", "secrets", "persistentvolumeclaims")),
    ("apps", ("deployments", "replicasets", "statefulsets")),
)
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


@dataclass(frozen=True)
class PipelineAccessArgs:
    namespace: pulumi.Input[str]
    team: str


class PipelineAccess(pulumi.ComponentResource):
    """Builds a service account in the team's namespace, a namespaced Role and its RoleBinding
    (never a ClusterRoleBinding), and the service account's long-lived token Secret, which
    Azure DevOps' Kubernetes service connection (service account authentication) needs since
    Kubernetes 1.24 stopped making one. Outputs the token and the cluster CA, both secret."""

    token: pulumi.Output[str]
    ca_cert: pulumi.Output[str]

    def __init__(self, name: str, args: PipelineAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:k8s:PipelineAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="azure-pipelines", namespace=args.namespace),
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="azure-pipelines-deployer", namespace=args.namespace),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[group], resources=list(kinds), verbs=list(VERBS))
                for group, kinds in ROLE_RULES
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="azure-pipelines-deployer", namespace=args.namespace),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=account.metadata.name, namespace=args.namespace)
            ],
            opts=child,
        )
        secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="azure-pipelines-token",
                namespace=args.namespace,
                annotations={"kubernetes.io/service-account.name": account.metadata.name},
            ),
            type="kubernetes.io/service-account-token",
            opts=child,
        )
        # The token and CA as the Secret's data holds them (base64), the form the service
        # connection's service-account authentication takes.
        self.token = pulumi.Output.secret(secret.data.apply(lambda d: (d or {}).get("token", "")))
        self.ca_cert = pulumi.Output.secret(secret.data.apply(lambda d: (d or {}).get("ca.crt", "")))
        self.register_outputs({"token": self.token, "ca_cert": self.ca_cert})
