"""The process kubelet: a test stand-in for kube-scheduler plus kubelet on one Node, without containers.

It registers a Node (with `nvidia.com/gpu` capacity so GPU Jobs fit), binds every pending pod to it
(scheduling constraints and resource requests are not checked: there is one node), runs each pod through a
`PodWorker` (local processes, status reported like a kubelet) and, when a pod is deleted, kills its processes
and then deletes the pod for good. Images are ignored: a container runs its `command` + `args` on this
machine, with this machine's PATH (the test virtualenv first). Polls the API server every few tenths of a second.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from control_plane.api import JSON, ApiClient, ApiError
from control_plane.pod_worker import KubeletSettings, PodWorker

NODE_NAME = "process-kubelet"
NODE_CAPACITY = {
    "cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "8",
}  # fmt: skip
_POLL_SECONDS = 0.2


def build_node(name: str, host_ip: str, kubelet_version: str) -> JSON:
    """A Ready Node that accepts everything (status may be set on create)."""
    now = "1970-01-01T00:00:00Z"
    times = {"lastHeartbeatTime": now, "lastTransitionTime": now}
    pressures = (
        ("MemoryPressure", "SufficientMemory"),
        ("DiskPressure", "NoDiskPressure"),
        ("PIDPressure", "SufficientPID"),
    )
    healthy = [{"type": kind, "status": "False", "reason": reason, **times} for kind, reason in pressures]
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", **times}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "nago.dev/process-kubelet": "true",
            },
        },
        "status": {
            "capacity": NODE_CAPACITY,
            "allocatable": NODE_CAPACITY,
            "conditions": [*healthy, ready],
            "addresses": [{"type": "InternalIP", "address": host_ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "machineID": "process-kubelet",
                "systemUUID": "process-kubelet",
                "bootID": "process-kubelet",
                "kernelVersion": platform.release(),
                "osImage": "local processes",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "process://1",
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": "",
            },
        },
    }


def default_base_environment() -> dict[str, str]:
    """What every container starts from: this machine's PATH with the test interpreter's folder first."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    base = {"PATH": path, "LANG": os.environ.get("LANG", "C.UTF-8"), "HOME": os.environ.get("HOME", "/tmp")}
    return base


@dataclass
class ProcessKubelet:
    client: ApiClient
    directory: Path
    kubelet_version: str
    api_port: int
    node_name: str = NODE_NAME
    host_ip: str = "127.0.0.1"
    image_entrypoints: Mapping[str, list[str]] = field(default_factory=dict)
    workers: dict[str, PodWorker] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _deleted: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    settings: KubeletSettings = field(init=False)

    def __post_init__(self) -> None:
        environment = {
            **default_base_environment(),
            "KUBERNETES_SERVICE_HOST": self.host_ip,
            "KUBERNETES_SERVICE_PORT": str(self.api_port),
        }
        self.settings = KubeletSettings(
            client=self.client,
            node_name=self.node_name,
            host_ip=self.host_ip,
            base_environment=environment,
            node_allocatable=NODE_CAPACITY,
            image_entrypoints=self.image_entrypoints,
            pods_directory=self.directory / "pods",
            errors=self.errors,
        )

    def start(self) -> None:
        """Register the Node (untainted) and start the polling loop."""
        node = build_node(self.node_name, self.host_ip, self.kubelet_version)
        with contextlib.suppress(ApiError):  # re-registering after a restart is fine
            self.client.create("/api/v1/nodes", node)
        # The TaintNodesByCondition admission plugin adds node.kubernetes.io/not-ready on create; only the node
        # lifecycle controller would lift it, and we do not run one.
        self.client.patch(f"/api/v1/nodes/{self.node_name}", {"spec": {"taints": None}})
        self._thread = threading.Thread(target=self._loop, name="process-kubelet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and kill every pod's processes (no grace: the control plane is going away)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for worker in self.workers.values():
            worker.request_stop(0.0)
        for worker in self.workers.values():
            worker.join(10)

    def container_log(self, namespace: str, pod: str, container: str) -> str:
        """What a container printed (stdout and stderr), for `kubectl logs`-style assertions."""
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == pod:
                path = worker.container_log(container)
                return path.read_text(errors="replace") if path.exists() else ""
        raise KeyError(f"no pod {namespace}/{pod} ran on {self.node_name}")

    def started_pids(self) -> set[int]:
        return {pid for worker in self.workers.values() for pid in worker.pids}

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync_once()
            except Exception as error:  # keep serving; the failure goes to the log and to `errors`
                message = f"process kubelet: {type(error).__name__}: {error}"
                self.errors.append(message)
                print(message, file=sys.stderr, flush=True)
            self._stop.wait(_POLL_SECONDS)

    def _sync_once(self) -> None:
        pods = self.client.get("/api/v1/pods").get("items", [])
        seen: set[str] = set()
        for pod in pods:
            metadata, spec = pod["metadata"], pod["spec"]
            uid = str(metadata["uid"])
            seen.add(uid)
            node = spec.get("nodeName")
            if not node:
                if "deletionTimestamp" not in metadata:
                    self._bind(pod)
                continue
            if node != self.node_name:
                continue
            self._sync_bound_pod(pod)
        for uid, worker in self.workers.items():
            if uid not in seen and not worker.stop_requested.is_set():
                worker.request_stop(0.0)  # removed behind our back (force delete)

    def _sync_bound_pod(self, pod: JSON) -> None:
        metadata = pod["metadata"]
        uid = str(metadata["uid"])
        phase = pod.get("status", {}).get("phase", "Pending")
        worker = self.workers.get(uid)
        deleting = "deletionTimestamp" in metadata
        if worker is None and not deleting and phase not in ("Succeeded", "Failed"):
            worker = PodWorker(self.settings, pod)
            self.workers[uid] = worker
            worker.start()
        elif deleting and worker is not None and not worker.finished.is_set():
            if not worker.stop_requested.is_set():
                worker.request_stop(float(metadata.get("deletionGracePeriodSeconds") or 0))
        elif deleting and uid not in self._deleted:
            # Terminal or never started here: nothing to kill, just finish the deletion.
            self._deleted.add(uid)
            body: JSON = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
            with contextlib.suppress(ApiError):
                self.client.delete(f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}", body)

    def _bind(self, pod: JSON) -> None:
        metadata = pod["metadata"]
        binding: JSON = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": metadata["name"], "uid": metadata["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
        }
        try:
            self.client.create(f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}/binding", binding)
        except ApiError as error:
            if error.status not in (404, 409):  # gone or already bound
                raise
