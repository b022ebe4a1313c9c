"""batch/v1 Jobs end to end: the Job controller makes pods, the process kubelet runs them as local processes,
the garbage collector removes what an owner's deletion orphans."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from control_plane import ApiClient, ControlPlane
from control_plane.api import JSON
from control_plane.manifests import build_job
from control_plane.waiting import find_condition, wait_for, wait_for_gone

pytestmark = pytest.mark.cluster

# A small generator (as in the integration tier), so one epoch on 600 images takes seconds.
SMALL_THETA = (
    '{"top_nodes": 3, "top_k": 2, "top_p": 0.5, "mid_nodes": 1, "mid_p": 0.5, "bottom_nodes": 3, "bottom_k": 2, '
    '"bottom_p": 0.5}'
)


def _jobs(namespace: str) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs"


def _pods_of(kube: ApiClient, namespace: str, job: str) -> list[JSON]:
    pods = kube.get(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": f"job-name={job}"})
    return list(pods["items"])


def _wait_for_job_condition(kube: ApiClient, namespace: str, job: str, condition: str, timeout: float = 90) -> JSON:
    path = f"{_jobs(namespace)}/{job}"
    return wait_for(
        f"Job {job} {condition}", lambda: find_condition(kube.get(path), condition) and kube.get(path), timeout
    )


def test_job_running_python_completes(control_plane: ControlPlane, kube: ApiClient, namespace: str) -> None:
    kube.create(
        f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "settings"}, "data": {"mode": "fast"}}
    )
    secret_value = base64.b64encode(b"s3cret").decode()
    kube.create(
        f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "creds"}, "data": {"token": secret_value}}
    )
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "MESSAGE", "value": "$(GREETING) from $(POD_NAMESPACE)"},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "JOB_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]
    script = (
        "import json, os; print(json.dumps({k: os.environ.get(k) for k in "
        "['GREETING', 'MESSAGE', 'POD_NAMESPACE', 'JOB_NAME', 'MODE', 'TOKEN']}))"
    )
    kube.create(_jobs(namespace), build_job("hello", ["python", "-c", script], env=env))
    job = _wait_for_job_condition(kube, namespace, "hello", "Complete")
    assert job["status"]["succeeded"] == 1
    [pod] = _pods_of(kube, namespace, "hello")
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert control_plane.kubelet is not None
    printed = json.loads(control_plane.kubelet.container_log(namespace, pod["metadata"]["name"], "main"))
    assert printed == {
        "GREETING": "hello",
        # POD_NAMESPACE is defined after MESSAGE, so (as in Kubernetes) the reference stays as written.
        "MESSAGE": "hello from $(POD_NAMESPACE)",
        "POD_NAMESPACE": namespace,
        "JOB_NAME": "hello",
        "MODE": "fast",
        "TOKEN": "s3cret",
    }


def test_failing_job_ends_failed_at_its_backoff_limit(kube: ApiClient, namespace: str) -> None:
    kube.create(_jobs(namespace), build_job("fails", ["python", "-c", "raise SystemExit(3)"], backoff_limit=1))
    job = _wait_for_job_condition(kube, namespace, "fails", "Failed", timeout=120)
    failed = find_condition(job, "Failed")
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2  # the first try and one retry
    exit_codes = [
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
        for pod in _pods_of(kube, namespace, "fails")
    ]
    assert exit_codes == [3, 3]


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_deleting_the_owner_removes_the_job_and_its_pods(
    control_plane: ControlPlane, kube: ApiClient, namespace: str
) -> None:
    owner = kube.create(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "owner"}, "data": {}})
    owner |= {"apiVersion": "v1", "kind": "ConfigMap"}
    kube.create(_jobs(namespace), build_job("owned", ["python", "-c", "import time; time.sleep(600)"], owner=owner))
    pod = wait_for(
        "the owned Job's pod to run",
        lambda: next((p for p in _pods_of(kube, namespace, "owned") if p["status"].get("phase") == "Running"), None),
    )
    pid = int(pod["status"]["containerStatuses"][0]["containerID"].removeprefix("process://"))
    assert _is_running(pid)
    kube.delete(f"/api/v1/namespaces/{namespace}/configmaps/owner", {"propagationPolicy": "Background"})
    wait_for_gone(kube, f"{_jobs(namespace)}/owned", timeout=90)
    wait_for("the owned Job's pods to be deleted", lambda: not _pods_of(kube, namespace, "owned"), timeout=90)
    wait_for(f"process {pid} to end", lambda: not _is_running(pid), timeout=30)


def test_job_running_nago_train_completes(control_plane: ControlPlane, kube: ApiClient, namespace: str) -> None:
    command = [
        "nago", "train", "--theta", SMALL_THETA, "--param-budget", "30000", "--head-channels", "32",
        "--train-limit", "600", "--validation-fraction", "0.02", "--batch-size", "32", "--device", "cpu",
        "--epochs", "1", "--trial-id", "$(POD_NAME)",
    ]  # fmt: skip
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "OMP_NUM_THREADS", "value": "1"},
    ]
    kube.create(_jobs(namespace), build_job("train", command, env=env, image="nago-trainer:dev"))
    _wait_for_job_condition(kube, namespace, "train", "Complete", timeout=300)
    [pod] = _pods_of(kube, namespace, "train")
    assert control_plane.kubelet is not None
    name = str(pod["metadata"]["name"])
    records = [
        json.loads(line)
        for line in control_plane.kubelet.container_log(namespace, name, "main").splitlines()
        if line.startswith("{")
    ]
    assert records, "nago train printed no JSON records"
    assert any(name in json.dumps(record) for record in records)
