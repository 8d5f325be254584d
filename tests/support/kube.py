"""A real Kubernetes 1.36 control plane for one AKS cluster of a stack, on 127.0.0.1.

What runs, all built by scripts/build-kube from pinned Go modules:
- etcd and kube-apiserver, with client-certificate and service-account-token authentication and
  RBAC (`--authorization-mode=Node,RBAC`, as AKS runs it);
- kube-controller-manager (Deployments get ReplicaSets and Pods, the token controller fills a
  service account's token Secret, the PV controller binds claims) and kube-scheduler;
- kwok, which runs the nodes: it reports them Ready and their pods Running (its own stages),
  a pod Ready one to five seconds after its start, as kwok's own general pod stage delays it;
  so a Deployment is not rolled out when its create returns, and only an `up` that waits sees it
  rolled out.

What Azure does for AKS, and cannot run here, is stood in by `AzureSide`, named as Azure's:
- AKS makes a node per VM of each pool, labelled as AKS labels them; here, from the pools the
  azure-native stand-in holds for the cluster (its cloud directory);
- the Azure cloud provider gives a LoadBalancer Service its public address;
- the Azure Disk CSI driver provisions a disk for a claim of AKS's built-in storage classes
  (`managed-csi`, WaitForFirstConsumer) once the scheduler has chosen its node, and deletes it
  when the claim goes.
The admin kubeconfig is what `listClusterAdminCredentials` returns for an AKS cluster: the
server, its CA, and a client certificate of `system:masters`.
"""

from __future__ import annotations

import atexit
import datetime
import functools
import hashlib
import ipaddress
import json
import shutil
import subprocess
import threading
import time
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from offline.prices import VM_SIZES
from tests.support.azure_stand_in import certificate_builder, key_usage
from tests.support.builds import built_by
from tests.support.kube_client import KubeClient, KubeError
from tests.support.local_registry import free_port

# AKS's pod range with Azure CNI overlay (learn.microsoft.com/azure/aks/azure-cni-overlay).
POD_CIDR = "10.244.0.0/16"
# The storage classes AKS installs in every cluster (learn.microsoft.com/azure/aks/concepts-storage).
DISK_DRIVER = "disk.csi.azure.com"
DISK_GROUP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/MC_rg_aks_westeurope"
AKS_STORAGE_CLASSES = {
    "default": "StandardSSD_LRS",
    "managed-csi": "StandardSSD_LRS",
    "managed-csi-premium": "Premium_LRS",
}


@functools.cache
def kube_bin() -> Path:
    """The folder with the control plane's binaries and the real Kubernetes provider."""
    return built_by("build-kube")


class Pki:
    """The cluster's CA, the certificates it signs, and the service-account signing key."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.now = datetime.datetime.now(datetime.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-ca")])
        self.cert = (
            certificate_builder(self.name, self.name, self.key.public_key(), self.now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        account = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sa_key, self.sa_pub = folder / "sa.key", folder / "sa.pub"
        self.sa_key.write_bytes(_private(account))
        self.sa_pub.write_bytes(
            account.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def issue(self, name: str, *, organization: str | None = None, server: bool = False) -> tuple[Path, Path]:
        """A certificate and key: a client's (CN the user, O its group) or the API server's."""
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
        if organization:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            certificate_builder(x509.Name(attrs), self.name, key.public_key(), self.now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("10.0.0.1")),  # the kubernetes Service's address
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes.default.svc"),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        stem = self.folder / name.replace(":", "-")
        stem.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        stem.with_suffix(".key").write_bytes(_private(key))
        return stem.with_suffix(".pem"), stem.with_suffix(".key")


# The control plane goes when the test process goes, however it ends: util-linux's setpriv sets
# PR_SET_PDEATHSIG and execs the binary (no preexec_fn in a process that runs threads).
DIE_WITH_PARENT = ("setpriv", "--pdeathsig", "TERM", "--")

# kwok's general pod stage (kustomize/stage/pod/general/pod-ready.yaml) delays a pod's readiness
# by 1 to 5 s (kwok draws it between the duration and the jitter), as a container takes time
# to start; its fast stages do not.
POD_READY_DELAY = {"durationMilliseconds": 1000, "jitterDurationMilliseconds": 5000}

RUNNING: list[Cluster] = []
# How often etcd and the API server are started on other ports when theirs was taken meanwhile.
PORT_TRIES = 3


def start_cluster(name: str, base: Path, cloud: Path, service_cidr: str) -> Cluster:
    """A started control plane, stopped by its workspace or, at the latest, when the session ends."""
    cluster = Cluster(name=name, base=base, bin=kube_bin(), cloud=cloud, service_cidr=service_cidr).start()
    RUNNING.append(cluster)
    return cluster


@atexit.register
def _stop_all() -> None:
    for cluster in RUNNING:
        cluster.stop()


def kwok_stages(built: Path, out: Path) -> Path:
    """kwok's stages as scripts/build-kube copied them, the pod-ready stage with its delay."""
    stages = [s for s in yaml.safe_load_all(built.read_text()) if s]
    for stage in stages:
        if stage["metadata"]["name"] == "pod-ready":
            stage["spec"]["delay"] = POD_READY_DELAY
    out.write_text(yaml.safe_dump_all(stages, sort_keys=False))
    return out


def _private(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Cluster:
    """One AKS cluster's control plane. `name` is the ManagedCluster's resourceName; `cloud` the
    azure-native stand-in's directory, where its pools are found."""

    name: str
    base: Path
    bin: Path
    cloud: Path
    service_cidr: str = "10.0.0.0/16"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.pki = Pki(self.base / "pki")
        self.admin_cert = self.pki.issue(f"clusterAdmin_{self.name}", organization="system:masters")
        self.serving = self.pki.issue("kube-apiserver", server=True)
        self.admin_kubeconfig = self.base / "admin.kubeconfig"
        self.admin_kubeconfig.write_text(self.kubeconfig())
        self.azure = AzureSide(self)
        # Which start of the API server is answering (None while it is stopped or starting).
        self.answering: int | None = None
        self._starts = 0

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self, token: str | None = None) -> KubeClient:
        """The admin, or whoever holds `token`."""
        if token:
            return KubeClient(self.server, self.pki.ca, token=token)
        return KubeClient(self.server, self.pki.ca, cert=self.admin_cert)

    def kubeconfig(self) -> str:
        """The admin kubeconfig, in the shape AKS's listClusterAdminCredentials returns it."""
        cert, key = self.admin_cert
        user = f"clusterAdmin_{self.name}"
        data = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": self.name,
                    "cluster": {
                        "certificate-authority-data": b64encode(self.pki.ca.read_bytes()).decode(),
                        "server": self.server,
                    },
                }
            ],
            "contexts": [{"name": f"{self.name}-admin", "context": {"cluster": self.name, "user": user}}],
            "current-context": f"{self.name}-admin",
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": b64encode(cert.read_bytes()).decode(),
                        "client-key-data": b64encode(key.read_bytes()).decode(),
                    },
                }
            ],
        }
        return json.dumps(data, indent=1)

    # --- the processes ------------------------------------------------------------------------
    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 (the process owns it)
        self.processes[name] = subprocess.Popen(
            [*DIE_WITH_PARENT, str(self.bin / name), *args], stdout=log, stderr=subprocess.STDOUT, cwd=self.base
        )

    def start(self) -> Cluster:
        self._start_etcd()
        self.start_api_server()
        self._install_storage_classes()
        kubeconfig = f"--kubeconfig={self.admin_kubeconfig}"
        self._spawn(
            "kube-controller-manager",
            kubeconfig,
            "--leader-elect=false",
            "--secure-port=0",
            f"--service-account-private-key-file={self.pki.sa_key}",
            f"--root-ca-file={self.pki.ca}",
            f"--service-cluster-ip-range={self.service_cidr}",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
        )
        self._spawn("kube-scheduler", kubeconfig, "--leader-elect=false", "--secure-port=0")
        self._spawn(
            "kwok",
            kubeconfig,
            f"--config={kwok_stages(self.bin / 'kwok-stages.yaml', self.base / 'kwok-stages.yaml')}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-label-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.224.0.4",
            # The kubelet's lease, renewed as kwokctl has kwok do it; without it the node
            # controller marks the nodes Unknown after 40 s and their pods not Ready.
            "--node-lease-duration-seconds=40",
        )
        self.azure.start()
        return self

    def _start_etcd(self) -> None:
        """etcd on two ports that were free a moment ago (free_port). Should another process have
        bound one meanwhile, etcd exits at once saying so, and starts again on two others."""
        for _ in range(PORT_TRIES):
            client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
            since = self._log_size("etcd")
            shutil.rmtree(self.base / "etcd", ignore_errors=True)  # nothing of a failed start's
            self._spawn(
                "etcd",
                f"--data-dir={self.base / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--unsafe-no-fsync",  # a test's data: no disk flush per write
                "--log-level=warn",
            )
            self.etcd = client
            if self._answers("etcd", since, lambda: requests.get(f"{self.etcd}/health", timeout=2).ok):
                return
        raise RuntimeError(f"etcd found no free ports in {PORT_TRIES} tries: {self._tail('etcd')}")

    def start_api_server(self) -> None:
        """The API server on the cluster's port. Its first start moves to another port, and
        writes the admin kubeconfig again, should another process have bound that one since
        free_port saw it free; a start again after a stop keeps it, as the kubeconfigs handed out
        name it."""
        for _ in range(PORT_TRIES):
            since = self._log_size("kube-apiserver")
            self._spawn_api_server()
            if self._answers("kube-apiserver", since, lambda: self.client().text("/readyz") == "ok", timeout=180):
                self._starts += 1
                self.answering = self._starts
                return
            if self._starts:
                raise RuntimeError(f"kube-apiserver's port {self.port} was taken: {self._tail('kube-apiserver')}")
            self.port = free_port()
            self.admin_kubeconfig.write_text(self.kubeconfig())
        raise RuntimeError(f"kube-apiserver found no free port in {PORT_TRIES} tries")

    def _spawn_api_server(self) -> None:
        cert, key = self.serving
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers={self.etcd}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--tls-cert-file={cert}",
            f"--tls-private-key-file={key}",
            f"--client-ca-file={self.pki.ca}",
            f"--service-account-issuer=https://{self.name}.oic.prod-aks.azure.com/",
            f"--service-account-key-file={self.pki.sa_pub}",
            f"--service-account-signing-key-file={self.pki.sa_key}",
            f"--service-cluster-ip-range={self.service_cidr}",
            "--authorization-mode=Node,RBAC",
            f"--cert-dir={self.base / 'certs'}",
        )

    def stop_api_server(self) -> None:
        """The API server stops answering (the cluster is gone, or unreachable)."""
        self.answering = None
        process = self.processes.pop("kube-apiserver")
        process.kill()
        process.wait(timeout=60)

    def _answers(self, name: str, since: int, ready: Callable[[], bool], timeout: float = 60) -> bool:
        """True once `ready()` holds; False if the process exited on a port already bound (its
        log since offset `since` says "address already in use"); an error if it exited otherwise
        or never answered."""
        deadline = time.monotonic() + timeout
        last = ""
        process = self.processes[name]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                del self.processes[name]
                if "address already in use" in self._log(name)[since:]:
                    return False
                raise RuntimeError(f"{name} exited: {self._tail(name)}")
            try:
                if ready():
                    return True
            except (KubeError, OSError) as error:  # still starting: refused, or 500 while its hooks run
                last = str(error)
            time.sleep(0.5)
        raise RuntimeError(f"{name} not ready in {timeout} s: {last}\n{self._tail(name)}")

    def _log(self, name: str) -> str:
        path = self.base / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _log_size(self, name: str) -> int:
        return len(self._log(name))

    def _tail(self, name: str) -> str:
        return self._log(name)[-3000:]

    def _install_storage_classes(self) -> None:
        client = self.client()
        for name, sku in AKS_STORAGE_CLASSES.items():
            body: dict[str, Any] = {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": name, "labels": {"kubernetes.io/cluster-service": "true"}},
                "provisioner": DISK_DRIVER,
                "parameters": {"skuname": sku},
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": True,
            }
            if name == "default":
                body["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
            client.create("/apis/storage.k8s.io/v1/storageclasses", body)

    def stop(self) -> None:
        # Its data is the test's only: no graceful shutdown to wait for.
        RUNNING[:] = [c for c in RUNNING if c is not self]
        self.answering = None
        self.azure.stop()
        for process in self.processes.values():
            process.kill()
        for process in self.processes.values():
            process.wait(timeout=30)
        self.processes.clear()

    def objects(self) -> list[dict[str, Any]]:
        """The objects of the kinds the program makes, in every namespace the program made."""
        client = self.client()
        kinds = [
            "/api/v1/namespaces",
            "/apis/apps/v1/deployments",
            "/api/v1/services",
            "/api/v1/secrets",
            "/api/v1/persistentvolumeclaims",
            "/apis/networking.k8s.io/v1/networkpolicies",
            "/api/v1/serviceaccounts",
            "/apis/rbac.authorization.k8s.io/v1/roles",
            "/apis/rbac.authorization.k8s.io/v1/rolebindings",
        ]
        found = []
        for path in kinds:
            listed = client.get(path)
            for item in listed.get("items") or []:
                # A list's items carry neither kind nor apiVersion: the list's own say them.
                item = {"apiVersion": listed["apiVersion"], "kind": listed["kind"].removesuffix("List"), **item}
                meta = item["metadata"]
                if (meta.get("namespace") or meta["name"]).startswith("kube-") or meta.get("namespace") == "default":
                    continue
                if meta["name"] == "default" and path.endswith("namespaces"):
                    continue
                found.append({"path": path, "namespace": meta.get("namespace"), "name": meta["name"], "object": item})
        return found


class AzureSide(threading.Thread):
    """What Azure does for the cluster, once a second: nodes for its pools, public addresses for
    LoadBalancer Services, disks for claims. Errors are kept in `errors` for the tests to read."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True, name=f"azure-{cluster.name}")
        self.cluster = cluster
        self.halt = threading.Event()
        self.errors: list[str] = []
        self._pools: tuple[int, list[dict[str, Any]]] = (-1, [])

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(timeout=10)

    def run(self) -> None:
        while not self.halt.wait(1.0):
            answering = self.cluster.answering
            if answering is None:
                continue
            try:
                client = self.cluster.client()
                self.make_nodes(client)
                self.assign_load_balancers(client)
                self.provision_disks(client)
            except KubeError as error:
                # An object that went between the list and a change of it is no error (Azure's
                # controllers meet the same race): a 404 to a patch or a delete, never to a list
                # or a create. Nor is a server stopped by the test meanwhile.
                gone = error.status == 404 and error.method in ("PATCH", "DELETE")
                if not gone and self.cluster.answering == answering:
                    self.errors.append(str(error))
            except OSError as error:
                if self.cluster.answering == answering:
                    self.errors.append(str(error))
            except Exception as error:
                self.errors.append(repr(error))

    # --- AKS: a node per VM of each pool -------------------------------------------------------
    def pools(self) -> list[dict[str, Any]]:
        """The cluster's pools as the azure-native stand-in holds them: the inline system pool
        and every AgentPool of the cluster. Read again only when the directory changed (each write
        there renames a file into it)."""
        changed = self.cluster.cloud.stat().st_mtime_ns if self.cluster.cloud.exists() else 0
        if changed != self._pools[0]:
            self._pools = (changed, self._read_pools())
        return self._pools[1]

    def _read_pools(self) -> list[dict[str, Any]]:
        records = []
        for path in self.cluster.cloud.glob("*.json"):
            try:
                records.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # being written
        pools: list[dict[str, Any]] = []
        for record in records:
            state = record.get("state") or {}
            if (
                record.get("type") == "azure-native:containerservice:ManagedCluster"
                and state.get("name") == self.cluster.name
            ):
                pools += [p for p in state.get("agentPoolProfiles") or [] if p.get("mode") == "System"]
            if (
                record.get("type") == "azure-native:containerservice:AgentPool"
                and state.get("resourceName") == self.cluster.name
            ):
                pools.append(state)
        return pools

    def make_nodes(self, client: KubeClient) -> None:
        """A node per VM of each pool; a pool's nodes go with it (their pods are then made again
        elsewhere by their ReplicaSets, once the pod garbage collector removes them)."""
        existing = {n["metadata"]["name"] for n in client.items("/api/v1/nodes")}
        pools = self.pools()
        wanted = {}
        for pool in pools:
            for index in range(int(pool.get("count") or 1)):
                node = aks_node(pool, index)
                wanted[node["metadata"]["name"]] = node
        for name, node in wanted.items():
            if name not in existing:
                client.create("/api/v1/nodes", node)
        if pools:  # the cluster still exists
            for name in existing - set(wanted):
                client.delete(f"/api/v1/nodes/{name}")

    # --- the Azure cloud provider: a public address per LoadBalancer Service ------------------
    def assign_load_balancers(self, client: KubeClient) -> None:
        for service in client.items("/api/v1/services"):
            meta, spec = service["metadata"], service["spec"]
            if spec.get("type") != "LoadBalancer" or (service.get("status") or {}).get("loadBalancer", {}).get(
                "ingress"
            ):
                continue
            octets = hashlib.sha256(meta["uid"].encode()).digest()[:2]
            address = f"20.31.{octets[0]}.{max(octets[1], 1)}"
            client.patch(
                f"/api/v1/namespaces/{meta['namespace']}/services/{meta['name']}/status",
                {"status": {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}},
            )

    # --- the Azure Disk CSI driver's provisioner ------------------------------------------------
    def provision_disks(self, client: KubeClient) -> None:
        classes = {c["metadata"]["name"]: c for c in client.items("/apis/storage.k8s.io/v1/storageclasses")}
        for claim in client.items("/api/v1/persistentvolumeclaims"):
            meta, spec = claim["metadata"], claim["spec"]
            node = (meta.get("annotations") or {}).get("volume.kubernetes.io/selected-node")
            storage_class = classes.get(spec.get("storageClassName") or "default")
            if spec.get("volumeName") or not node or not storage_class or storage_class["provisioner"] != DISK_DRIVER:
                continue
            name = f"pvc-{meta['uid']}"
            try:
                client.create(
                    "/api/v1/persistentvolumes",
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolume",
                        "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": DISK_DRIVER}},
                        "spec": {
                            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
                            "storageClassName": storage_class["metadata"]["name"],
                            "claimRef": {
                                "kind": "PersistentVolumeClaim",
                                "namespace": meta["namespace"],
                                "name": meta["name"],
                                "uid": meta["uid"],
                            },
                            "csi": {
                                "driver": DISK_DRIVER,
                                "volumeHandle": f"{DISK_GROUP}/providers/Microsoft.Compute/disks/{name}",
                                "fsType": "ext4",
                            },
                        },
                    },
                )
            except KubeError as error:
                if error.status != 409:  # made on an earlier pass, not bound yet
                    raise
        for volume in client.items("/api/v1/persistentvolumes"):
            status, spec = volume.get("status") or {}, volume["spec"]
            if status.get("phase") == "Released" and spec.get("persistentVolumeReclaimPolicy") == "Delete":
                client.delete(f"/api/v1/persistentvolumes/{volume['metadata']['name']}")


def aks_node(pool: dict[str, Any], index: int) -> dict[str, Any]:
    """A Node as AKS registers one of the pool's VMs: its name, labels, taints and what the
    kubelet reports it can hold (AKS's reservations: learn.microsoft.com/azure/aks/node-resource-reservations)."""
    name, os_type = str(pool["name"]), str(pool.get("osType") or "Linux")
    windows = os_type == "Windows"
    size = VM_SIZES[str(pool["vmSize"])]
    max_pods = int(pool.get("maxPods") or (250 if not windows else 30))
    memory_mi = size.memory_gib * 1024
    # kube-reserved memory since 1.29: 20 MiB per pod of maxPods plus 50 MiB, at most 25 % of the
    # memory; the kubelet's eviction threshold keeps 100 MiB more.
    reserved_mi = min(20 * max_pods + 50, memory_mi // 4) + 100
    cpu_m = size.vcpus * 1000
    reserved_cpu_m = 500 if windows else {2: 100, 4: 140, 8: 180, 16: 260}.get(size.vcpus, 100)
    node_name = f"aks{name}{index:06d}" if windows else f"aks-{name}-12345678-vmss{index:06d}"
    labels = {
        "kubernetes.io/os": os_type.lower(),
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node_name,
        "kubernetes.azure.com/os-sku": str(pool.get("osSKU") or ("Windows2022" if windows else "Ubuntu")),
        "kubernetes.azure.com/agentpool": name,
        "kubernetes.azure.com/mode": str(pool.get("mode") or "User").lower(),
        "agentpool": name,
        "node.kubernetes.io/instance-type": str(pool["vmSize"]),
        "kwok.x-k8s.io/node": "fake",
        **{str(k): str(v) for k, v in (pool.get("nodeLabels") or {}).items()},
    }
    taints = []
    for taint in pool.get("nodeTaints") or []:
        key_value, effect = str(taint).rsplit(":", 1)
        key, _, value = key_value.partition("=")
        taints.append({"key": key, "value": value, "effect": effect})
    capacity = {"cpu": f"{cpu_m}m", "memory": f"{memory_mi}Mi", "pods": str(max_pods)}
    allocatable = {"cpu": f"{cpu_m - reserved_cpu_m}m", "memory": f"{memory_mi - reserved_mi}Mi", "pods": str(max_pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"taints": taints} if taints else {},
        "status": {"capacity": capacity, "allocatable": allocatable},
    }


def environment_for(clusters: dict[str, Cluster]) -> dict[str, str]:
    """What the azure-native stand-in reads to answer listClusterAdminCredentials with a real
    cluster's kubeconfig: MUSICSTORE_STANDIN_KUBECONFIGS, {resourceName: kubeconfig}."""
    return {"MUSICSTORE_STANDIN_KUBECONFIGS": json.dumps({n: c.kubeconfig() for n, c in clusters.items()})}
