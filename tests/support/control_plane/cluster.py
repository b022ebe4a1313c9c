"""Start and stop a whole control plane: etcd, kube-apiserver (client certificates, RBAC, service-account
keys), kube-controller-manager (the controllers Jobs and cascading deletes need) and either the process
kubelet (pods as local processes) or a real node (kube-scheduler, kubelet, containerd, kube-proxy: `node.py`).

Every process runs in its own session, is stopped by its own PID (SIGTERM, then SIGKILL) in reverse order,
and logs to `log_directory`; the state directory (PKI, etcd data, kubeconfigs) is removed on stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from control_plane.api import ApiClient, ApiError
from control_plane.binaries import Binaries, require_binaries
from control_plane.kubeconfig import write_kubeconfig
from control_plane.kubelet import ProcessKubelet
from control_plane.node import RealNode
from control_plane.pki import NODE_GATEWAY, Pki, generate_pki
from control_plane.processes import ManagedProcess, pick_free_ports, read_tail, start_process

START_TIMEOUT_SECONDS = 120.0
CONTROLLERS = [
    "job-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "ttl-after-finished-controller",
    "cronjob-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
]
# What a real node's pods also need: Services' endpoints for kube-proxy, volumes bound to claims, node taints.
REAL_NODE_CONTROLLERS = [
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-protection-controller",
    "persistentvolumeclaim-protection-controller",
    "node-lifecycle-controller",
    "pod-garbage-collector-controller",
]


class ControlPlaneError(RuntimeError):
    """The control plane did not come up; the message carries the tail of every log."""


@dataclass
class ControlPlane:
    binaries: Binaries
    state_directory: Path
    log_directory: Path
    pki: Pki
    server: str
    api_port: int
    kubeconfig: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    kubelet: ProcessKubelet | None = None
    node: RealNode | None = None
    _owns_state_directory: bool = True

    def admin_client(self) -> ApiClient:
        return ApiClient(self.server, str(self.pki.ca.certificate), self.pki.admin)

    def write_service_account_kubeconfig(
        self, namespace: str, account: str, path: Path, exec_plugin: bool = False
    ) -> Path:
        """A kubeconfig that logs in as ServiceAccount `namespace/account`, with a one-hour token from the
        TokenRequest API: exactly the identity a pod running as that account has. With `exec_plugin` the token
        comes from an exec plugin, a script beside the kubeconfig that prints it as an ExecCredential and
        appends a line to `<path>.exec-calls` each time it runs."""
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        }
        answer = self.admin_client().create(f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", request)
        user = f"system:serviceaccount:{namespace}:{account}"
        token = str(answer["status"]["token"])
        if not exec_plugin:
            return write_kubeconfig(path, self.server, self.pki.ca.certificate, user, token)
        credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                      "status": {"token": token}}  # fmt: skip
        plugin = path.with_name(f"{path.name}.exec-plugin")
        plugin.write_text(
            f"#!/bin/sh\necho called >> '{path}.exec-calls'\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n"
        )
        plugin.chmod(0o700)
        return write_kubeconfig(path, self.server, self.pki.ca.certificate, user, [str(plugin)])

    def command_environment(self) -> dict[str, str]:
        """Environment for kubectl and helm: this cluster, and helm's state in the state directory."""
        helm_home = self.state_directory / "helm"
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }

    def kubectl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run_tool(self.binaries.kubectl, arguments, check)

    def helm(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run_tool(self.binaries.helm, arguments, check)

    def _run_tool(self, binary: Path, arguments: Sequence[str], check: bool) -> subprocess.CompletedProcess[str]:
        command = [str(binary), *arguments]
        result = subprocess.run(command, env=self.command_environment(), capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def read_logs(self, lines: int = 80) -> dict[str, str]:
        """The last lines of every process log, by process name."""
        return {path.stem: read_tail(path, lines) for path in sorted(self.log_directory.glob("*.log"))}

    def started_pids(self) -> set[int]:
        """Every PID this control plane started: its own processes and the pods' processes."""
        pids = {process.pid for process in self.processes}
        if self.kubelet is not None:
            pids |= self.kubelet.started_pids()
        return pids

    def stop(self) -> None:
        """Stop the kubelet (and its pods), then every process in reverse start order; remove the state."""
        if self.kubelet is not None:
            self.kubelet.stop()
        if self.node is not None:
            for process in self.processes:  # no controller or scheduler recreates the pods the node deletes
                if process.name in ("kube-controller-manager", "kube-scheduler"):
                    process.stop()
            self.node.stop()  # needs the API server: it deletes the pods and lets the kubelet tear them down
        for process in reversed(self.processes):
            process.stop()
        if self._owns_state_directory:
            shutil.rmtree(self.state_directory, ignore_errors=True)


def _wait_until(what: str, ready: Callable[[], bool], processes: Sequence[ManagedProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.is_running():
                raise ControlPlaneError(
                    f"{process.name} exited with {process.process.returncode} while waiting for {what}"
                )
        with contextlib.suppress(OSError, ApiError, ValueError):
            if ready():
                return
        time.sleep(0.2)
    raise ControlPlaneError(f"timed out after {timeout:.0f} s waiting for {what}")


def _etcd_is_healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
        return b'"health":"true"' in response.read()


def _etcd_command(binaries: Binaries, data_directory: Path, client_port: int, peer_port: int) -> list[str]:
    client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [
        str(binaries.etcd), "--name=nago", f"--data-dir={data_directory}",
        f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=nago={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
    ]  # fmt: skip


def _apiserver_command(
    binaries: Binaries, pki: Pki, state: Path, etcd_url: str, port: int, real_node: bool
) -> list[str]:
    if real_node:  # reachable from pods on the node's bridge, as the `kubernetes` Service's endpoint
        network = ["--bind-address=0.0.0.0", f"--advertise-address={NODE_GATEWAY}", "--endpoint-reconciler-type=lease",
                   "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
                   # to the kubelet (logs, exec) as an administrator; the kubelet authorizes every such request
                   f"--kubelet-client-certificate={pki.admin.certificate}", f"--kubelet-client-key={pki.admin.key}",
                   "--kubelet-preferred-address-types=InternalIP"]  # fmt: skip
    else:
        network = ["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
                   "--authorization-mode=RBAC"]  # fmt: skip
    return [
        str(binaries.kube_apiserver), f"--etcd-servers={etcd_url}", *network, f"--secure-port={port}",
        f"--cert-dir={state / 'apiserver'}",
        f"--tls-cert-file={pki.apiserver.certificate}", f"--tls-private-key-file={pki.apiserver.key}",
        f"--client-ca-file={pki.ca.certificate}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.service_account_public_key}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true", "--v=1",
    ]  # fmt: skip


def _controller_manager_command(binaries: Binaries, pki: Pki, kubeconfig: Path, real_node: bool) -> list[str]:
    controllers = CONTROLLERS + (REAL_NODE_CONTROLLERS if real_node else [])
    return [
        str(binaries.kube_controller_manager), f"--kubeconfig={kubeconfig}",
        f"--controllers={','.join(controllers)}", "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.service_account_key}", f"--root-ca-file={pki.ca.certificate}",
        "--leader-elect=false", "--secure-port=0", "--kube-api-qps=100", "--kube-api-burst=200", "--v=1",
    ]  # fmt: skip


def start_control_plane(
    state_directory: Path | None = None,
    log_directory: Path | None = None,
    image_entrypoints: Mapping[str, list[str]] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
    real_node: bool = False,
) -> ControlPlane:
    """Start etcd, kube-apiserver, kube-controller-manager and the process kubelet (or, with `real_node`,
    kube-scheduler and a real node); return once all are ready.

    On failure everything started so far is stopped and the error carries the tail of each log.
    """
    binaries = require_binaries()
    owns_state = state_directory is None
    state = state_directory or Path(tempfile.mkdtemp(prefix="nago-control-plane-"))
    logs = log_directory or state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pki = generate_pki(state / "pki")
    etcd_client_port, etcd_peer_port, api_port = pick_free_ports(3)
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = write_kubeconfig(state / "admin.kubeconfig", server, pki.ca.certificate, "nago-admin", pki.admin)
    plane = ControlPlane(binaries, state, logs, pki, server, api_port, kubeconfig, _owns_state_directory=owns_state)
    try:
        _start_processes(plane, etcd_client_port, etcd_peer_port, timeout, image_entrypoints or {}, real_node)
    except BaseException as error:
        tails = "\n".join(f"--- {name}.log ---\n{tail}" for name, tail in plane.read_logs(40).items())
        plane.stop()
        if isinstance(error, Exception):
            raise ControlPlaneError(f"{error}\n{tails}") from error
        raise
    return plane


def _start_processes(
    plane: ControlPlane,
    etcd_client_port: int,
    etcd_peer_port: int,
    timeout: float,
    entrypoints: Mapping[str, list[str]],
    real_node: bool,
) -> None:
    binaries, pki, state, logs = plane.binaries, plane.pki, plane.state_directory, plane.log_directory
    etcd_url = f"http://127.0.0.1:{etcd_client_port}"
    etcd = start_process(
        "etcd", _etcd_command(binaries, state / "etcd", etcd_client_port, etcd_peer_port), logs / "etcd.log"
    )
    plane.processes.append(etcd)
    _wait_until("etcd /health", lambda: _etcd_is_healthy(etcd_url), plane.processes, timeout)

    apiserver_command = _apiserver_command(binaries, pki, state, etcd_url, plane.api_port, real_node)
    plane.processes.append(start_process("kube-apiserver", apiserver_command, logs / "kube-apiserver.log"))
    client = plane.admin_client()
    _wait_until("kube-apiserver /readyz", lambda: client.send_raw("GET", "/readyz") == b"ok", plane.processes, timeout)

    manager_kubeconfig = write_kubeconfig(
        state / "controller-manager.kubeconfig", plane.server, pki.ca.certificate,
        "system:kube-controller-manager", pki.controller_manager,
    )  # fmt: skip
    manager_command = _controller_manager_command(binaries, pki, manager_kubeconfig, real_node)
    plane.processes.append(
        start_process("kube-controller-manager", manager_command, logs / "kube-controller-manager.log")
    )
    # The service-account controller creates `default` in every namespace: proof that the controllers run.
    default_account = "/api/v1/namespaces/default/serviceaccounts/default"
    _wait_until("the default ServiceAccount", lambda: client.exists(default_account), plane.processes, timeout)

    if real_node:
        scheduler_kubeconfig = write_kubeconfig(
            state / "scheduler.kubeconfig", plane.server, pki.ca.certificate, "system:kube-scheduler", pki.scheduler
        )
        scheduler_command = [str(binaries.kube_scheduler), f"--kubeconfig={scheduler_kubeconfig}",
                             "--leader-elect=false", "--secure-port=0", "--v=1"]  # fmt: skip
        plane.processes.append(start_process("kube-scheduler", scheduler_command, logs / "kube-scheduler.log"))
        plane.node = RealNode(binaries, pki, plane.server, client, state / "node", logs)
        plane.node.start()
        return
    plane.kubelet = ProcessKubelet(
        client=ApiClient(plane.server, str(pki.ca.certificate), pki.kubelet),
        directory=logs / "kubelet",  # pod logs and working folders stay with the logs
        kubelet_version=binaries.kubernetes_version,
        api_port=plane.api_port,
        image_entrypoints=entrypoints,
    )
    plane.kubelet.start()


@contextlib.contextmanager
def run_control_plane(log_directory: Path | None = None) -> Iterator[ControlPlane]:
    plane = start_control_plane(log_directory=log_directory)
    try:
        yield plane
    finally:
        plane.stop()
