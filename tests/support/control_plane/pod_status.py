"""The pod and container status documents a kubelet writes (pods/{name}/status), built from what ran."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from control_plane.api import JSON


def format_time(moment: datetime.datetime | None = None) -> str:
    return (moment or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerState:
    """One container of a pod as the kubelet last saw it."""

    name: str
    image: str
    pid: int | None = None
    started_at: str | None = None
    exit_code: int | None = None
    finished_at: str | None = None
    restart_count: int = 0
    last_exit_code: int | None = None
    last_started_at: str | None = None
    last_finished_at: str | None = None
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.exit_code is None

    @property
    def terminated(self) -> bool:
        return self.exit_code is not None


def _terminated(exit_code: int, started_at: str | None, finished_at: str | None, container_id: str) -> JSON:
    return {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "startedAt": started_at,
        "finishedAt": finished_at,
        "containerID": container_id,
    }


def describe_container(container: ContainerState) -> JSON:
    """A `containerStatuses[]` entry."""
    container_id = f"process://{container.pid}" if container.pid is not None else ""
    state: JSON
    if container.terminated:
        state = {
            "terminated": _terminated(
                container.exit_code or 0, container.started_at, container.finished_at, container_id
            )
        }
    elif container.running:
        state = {"running": {"startedAt": container.started_at}}
    else:
        waiting: JSON = {"reason": container.waiting_reason}
        if container.waiting_message:
            waiting["message"] = container.waiting_message
        state = {"waiting": waiting}
    status: dict[str, Any] = {
        "name": container.name,
        "image": container.image,
        "imageID": "",
        "ready": container.running,
        "started": container.running,
        "restartCount": container.restart_count,
        "state": state,
    }
    if container_id:
        status["containerID"] = container_id
    if container.last_exit_code is not None:
        status["lastState"] = {
            "terminated": _terminated(
                container.last_exit_code, container.last_started_at, container.last_finished_at, container_id
            )
        }
    return status


def _condition(kind: str, is_true: bool, now: str, reason: str = "") -> JSON:
    condition: JSON = {"type": kind, "status": "True" if is_true else "False", "lastTransitionTime": now}
    if reason and not is_true:
        condition["reason"] = reason
    return condition


def describe_pod(
    phase: str,
    start_time: str,
    host_ip: str,
    init_containers: list[ContainerState],
    containers: list[ContainerState],
    message: str = "",
) -> JSON:
    """The whole `status` of a pod in `phase` (Pending, Running, Succeeded or Failed)."""
    now = format_time()
    initialized = all(container.exit_code == 0 for container in init_containers)
    ready = phase == "Running" and all(container.running for container in containers)
    not_ready_reason = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}.get(phase, "ContainersNotReady")
    status: JSON = {
        "phase": phase,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": start_time,
        "conditions": [
            _condition("PodReadyToStartContainers", phase in ("Pending", "Running"), now),
            _condition("Initialized", initialized, now, "ContainersNotInitialized"),
            _condition("Ready", ready, now, not_ready_reason),
            _condition("ContainersReady", ready, now, not_ready_reason),
            _condition("PodScheduled", True, now),
        ],
        "containerStatuses": [describe_container(container) for container in containers],
    }
    if init_containers:
        status["initContainerStatuses"] = [describe_container(container) for container in init_containers]
    if message:
        status["message"] = message
    return status
