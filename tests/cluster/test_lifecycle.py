"""The control plane's own life: a second one, started and stopped here, leaves no process and no file behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from control_plane import start_control_plane
from control_plane.manifests import build_job
from control_plane.waiting import wait_for

pytestmark = pytest.mark.cluster


def _live_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if state != "Z":
                pids.add(int(entry.name))
    return pids


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if text in command:
                found.append(f"{entry.name}: {command}")
    return found


def test_stopping_leaves_no_process_and_no_state_behind(tmp_path: Path) -> None:
    plane = start_control_plane(log_directory=tmp_path / "logs")
    try:
        kube = plane.admin_client()
        kube.create("/api/v1/namespaces", {"metadata": {"name": "leftovers"}})
        wait_for(
            "ServiceAccount leftovers/default",
            lambda: kube.exists("/api/v1/namespaces/leftovers/serviceaccounts/default"),
        )
        job = build_job("sleeper", ["python", "-c", "import time; time.sleep(600)"])
        kube.create("/apis/batch/v1/namespaces/leftovers/jobs", job)
        wait_for("the sleeper to run", lambda: plane.kubelet is not None and plane.kubelet.started_pids())
        started = plane.started_pids()
        assert len(started) == 4  # etcd, kube-apiserver, kube-controller-manager and the sleeping pod
        assert started <= _live_pids()
    finally:
        plane.stop()
    assert not started & _live_pids()
    assert not _processes_mentioning(str(plane.state_directory))
    assert not plane.state_directory.exists()
