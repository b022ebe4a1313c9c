"""What a user's cluster runs, run for real: the Helm release (operator Deployment and bundled Redis) as
containers of the images `make images` builds, and a GeneratorSearch whose every trial is a container of the
trainer image, all under the restricted Pod Security Standard, on a real kubelet with containerd."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from control_plane import ApiClient, ControlPlane
from control_plane.node import CONTAINERS_CONF, NODE_NAME
from control_plane.waiting import wait_for
from helpers import build_small_search
from nago.search.ledger import TrialPurpose, TrialState
from nago.trial.dataset import FASHION_MNIST_DIR
from operator_harness import list_jobs, read_ledger

pytestmark = pytest.mark.node

CHART = Path(__file__).resolve().parents[2] / "charts" / "nago-operator"
SEARCHES = "/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches"
RELEASE = "nago"
FULLNAME = f"{RELEASE}-nago-operator"  # the chart's names: <release>-<chart>
TRAINER_IMAGE = "localhost/nago-trainer:dev"
# Run by every trial container before `nago train`, so the pod itself says where it runs: its user, whether its
# root filesystem is writable, and whether this machine's checkout is visible (it is to a local process).
PROBE = (
    'echo "nago-probe uid=$(id -u) root=$(touch /probe 2>/dev/null && echo writable || echo read-only)'
    f' checkout=$(test -e {Path(__file__).resolve()} && echo visible || echo absent)"; exec nago train "$@"'
)


def create_restricted_namespace(kube: ApiClient, prefix: str) -> str:
    """A fresh namespace where the restricted Pod Security Standard is enforced, its `default` account ready."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    )
    account = f"/api/v1/namespaces/{name}/serviceaccounts/default"
    wait_for(f"ServiceAccount {name}/default", lambda: kube.exists(account), timeout=60)
    return name


def read_podman_image_id(image: str) -> str:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    result = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", image], env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout.strip()


def create_host_volume(kube: ApiClient, name: str, path: Path, claim: tuple[str, str], mode: str) -> None:
    """A hostPath PersistentVolume bound ahead to one claim (the test cluster has no provisioner)."""
    namespace, claim_name = claim
    kube.create("/api/v1/persistentvolumes", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": [mode], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(path), "type": "Directory"},
                 "claimRef": {"namespace": namespace, "name": claim_name}},
    })  # fmt: skip


def list_pods(kube: ApiClient, namespace: str, selector: str) -> list[dict[str, Any]]:
    return list(kube.get(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": selector})["items"])


def read_container_spec(plane: ControlPlane, pod: dict[str, Any]) -> dict[str, Any]:
    """The OCI runtime spec containerd holds for the pod's (first) container."""
    assert plane.node is not None
    container_id = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    return dict(json.loads(plane.node.ctr("containers", "info", container_id))["Spec"])


@pytest.fixture(scope="module")
def release(real_node_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The chart installed with the images built here, in a namespace enforcing the restricted standard."""
    kube = real_node_plane.admin_client()
    namespace = create_restricted_namespace(kube, "nago-system")
    redis_data = tmp_path_factory.mktemp("redis-data")
    redis_data.chmod(0o777)  # the chart runs Redis as uid 999; a hostPath volume gets no fsGroup
    create_host_volume(kube, f"{namespace}-redis", redis_data, (namespace, f"data-{FULLNAME}-redis-0"), "ReadWriteOnce")
    real_node_plane.helm(
        "install", RELEASE, str(CHART), "--namespace", namespace,
        "--set", "image.repository=localhost/nago-operator", "--set", "image.tag=dev",
        "--set", "image.pullPolicy=Never", "--set", "redis.image.repository=localhost/nago-redis",
        "--set", "redis.image.tag=dev", "--set", "redis.image.pullPolicy=Never",
    )  # fmt: skip

    def ready(kind: str, name: str) -> bool:
        workload = kube.get(f"/apis/apps/v1/namespaces/{namespace}/{kind}/{name}")
        return bool(workload.get("status", {}).get("readyReplicas") == workload["spec"]["replicas"])

    wait_for("the bundled Redis Ready", lambda: ready("statefulsets", f"{FULLNAME}-redis"), timeout=180)
    wait_for("the operator Ready", lambda: ready("deployments", FULLNAME), timeout=180)
    return namespace


def test_the_release_runs_as_containers_of_the_images_with_the_charts_security(
    real_node_plane: ControlPlane, kube: ApiClient, release: str
) -> None:
    instance = f"app.kubernetes.io/instance={RELEASE}"
    expected = {  # the operator's pod carries only the selector labels; Redis's adds its component
        "operator": (f"{instance},!app.kubernetes.io/component", "localhost/nago-operator:dev"),
        "redis": (f"{instance},app.kubernetes.io/component=redis", "localhost/nago-redis:dev"),
    }
    replicas = {"operator": 2, "redis": 1}  # the chart's defaults: an active operator and a standby
    for component, (selector, image) in expected.items():
        pods = list_pods(kube, release, selector)
        assert len(pods) == replicas[component], [p["metadata"]["name"] for p in pods]
        for pod in pods:
            assert pod["spec"]["nodeName"] == NODE_NAME
            (status,) = pod["status"]["containerStatuses"]
            assert status["ready"] and status["imageID"].endswith(read_podman_image_id(image).removeprefix("sha256:"))
            spec = read_container_spec(real_node_plane, pod)
            assert spec["root"].get("readonly") is True, component
            assert spec["process"]["user"]["uid"] not in (0, None), component
            assert spec["process"].get("noNewPrivileges") is True, component
            assert not spec["process"].get("capabilities", {}).get("effective"), component
    # One of the two operator pods holds the Lease (identity: its pod name and a suffix); the other stands by.
    lease = kube.get(f"/apis/coordination.k8s.io/v1/namespaces/{release}/leases/{FULLNAME}")
    operators = [p["metadata"]["name"] for p in list_pods(kube, release, expected["operator"][0])]
    holder = str(lease["spec"]["holderIdentity"])
    assert sum(holder.startswith(f"{name}_") for name in operators) == 1, (holder, operators)


def test_a_search_runs_with_every_trial_in_a_trainer_container(
    real_node_plane: ControlPlane, kube: ApiClient, release: str
) -> None:
    namespace = create_restricted_namespace(kube, "search")
    create_host_volume(kube, f"{namespace}-data", FASHION_MNIST_DIR, (namespace, "fashion-mnist"), "ReadOnlyMany")
    kube.create(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "fashion-mnist"},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "",
                 "resources": {"requests": {"storage": "1Gi"}}},
    })  # fmt: skip
    trial = {
        "image": TRAINER_IMAGE, "imagePullPolicy": "Never", "command": ["sh", "-c", PROBE, "nago-train"],
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "3Gi"}},
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "fashion-mnist", "readOnly": True}}],
        "volumeMounts": [{"name": "data", "mountPath": str(FASHION_MNIST_DIR), "readOnly": True}],
    }  # fmt: skip
    document = build_small_search("real", {"kind": "random", "seed": 5}, max_trials=3, trial=trial)
    kube.create(SEARCHES.format(namespace=namespace), document)

    def finished() -> dict[str, Any] | None:
        search = kube.get(f"{SEARCHES.format(namespace=namespace)}/real")
        return search if (search.get("status") or {}).get("phase") in ("Succeeded", "Failed") else None

    search = wait_for("the search to finish", finished, timeout=900, interval=2)
    assert search["status"]["phase"] == "Succeeded", search["status"]
    trials = read_ledger(kube, namespace, "real").of(TrialPurpose.SEARCH)
    assert len(trials) == 3 and all(t.state is TrialState.SUCCEEDED for t in trials)
    jobs = list_jobs(kube, namespace, "real")
    assert len(jobs) == 3
    trainer_id = read_podman_image_id(TRAINER_IMAGE).removeprefix("sha256:")
    for job in jobs:
        selector = f"job-name={job['metadata']['name']}"

        def exited(selector: str = selector) -> dict[str, Any] | None:  # the search ends on the records;
            (pod,) = list_pods(kube, namespace, selector)  # the trainer's process exits just after
            return pod if pod["status"]["phase"] in ("Succeeded", "Failed") else None

        pod = wait_for(f"the pod of {selector} to exit", exited, timeout=120, interval=1)
        assert pod["spec"]["nodeName"] == NODE_NAME and pod["status"]["phase"] == "Succeeded"
        (status,) = pod["status"]["containerStatuses"]
        assert status["imageID"].endswith(trainer_id), status
        log = real_node_plane.kubectl("logs", "-n", namespace, pod["metadata"]["name"]).stdout
        probe = next(line for line in log.splitlines() if line.startswith("nago-probe "))
        assert probe == "nago-probe uid=10001 root=read-only checkout=absent", probe
