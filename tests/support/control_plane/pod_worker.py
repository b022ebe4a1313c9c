"""One pod's life under the process kubelet: configure, run init containers in order, then all containers as
local processes; restart them as the restart policy says; report status; stop them when asked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from control_plane.api import JSON, ApiClient, ApiError
from control_plane.environment import ConfigError, build_command_line, resolve_environment
from control_plane.pod_status import ContainerState, describe_pod, format_time

_POLL_SECONDS = 0.1
_RESTART_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class KubeletSettings:
    """What every pod worker of one kubelet shares."""

    client: ApiClient
    node_name: str
    host_ip: str
    base_environment: Mapping[str, str]
    node_allocatable: Mapping[str, str]
    image_entrypoints: Mapping[str, list[str]]
    pods_directory: Path
    errors: list[str]  # what went wrong, for the report of a failing test


def _exit_code(returncode: int) -> int:
    """A shell-style exit code: 128 + signal for a process killed by a signal."""
    return 128 - returncode if returncode < 0 else returncode


def _signal_group(pid: int, signal_number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal_number)


@dataclass(eq=False)
class _Running:
    state: ContainerState
    spec: JSON
    argv: list[str]
    environment: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None


@dataclass
class PodWorker:
    """Runs one pod; `request_stop` (the pod was deleted) ends it early and kills its processes."""

    settings: KubeletSettings
    pod: JSON
    stop_requested: threading.Event = field(default_factory=threading.Event)
    grace_seconds: float = 30.0
    finished: threading.Event = field(default_factory=threading.Event)
    pids: set[int] = field(default_factory=set)
    start_time: str = ""
    restart_policy: str = "Always"
    init_states: list[ContainerState] = field(default_factory=list)
    states: list[ContainerState] = field(default_factory=list)
    _launched: list[_Running] = field(default_factory=list)
    _thread: threading.Thread | None = None

    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.pod["metadata"]["uid"])

    @property
    def directory(self) -> Path:
        return self.settings.pods_directory / f"{self.namespace}_{self.name}_{self.uid[:8]}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"pod-{self.namespace}/{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.stop_requested.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def container_log(self, container: str) -> Path:
        return self.directory / f"{container}.log"

    # -- the life of the pod ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        spec = self.pod["spec"]
        self.start_time = format_time()
        self.init_states = [
            ContainerState(c["name"], str(c.get("image", ""))) for c in spec.get("initContainers") or []
        ]
        self.states = [ContainerState(c["name"], str(c.get("image", ""))) for c in spec["containers"]]
        self.restart_policy = str(spec.get("restartPolicy", "Always"))
        try:
            phase, message = self._run_to_end()
        except Exception as error:  # report anything unexpected on the pod, where tests look
            phase, message = "Failed", f"process kubelet: {type(error).__name__}: {error}"
            self.settings.errors.append(f"pod {self.namespace}/{self.name}: {message}")
        finally:
            self._kill_all()
        self._report(phase, message)
        if self.stop_requested.is_set():
            self._delete_for_good()
        self.finished.set()

    def _run_to_end(self) -> tuple[str, str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        init = self._configure_all(self.pod["spec"].get("initContainers") or [], self.init_states)
        if init is None:
            return "Failed", "stopped before start"
        for running in init:
            self._launch(running)
            self._report("Pending")
            while running.process is not None and running.process.poll() is None:
                if self.stop_requested.wait(_POLL_SECONDS):
                    return "Failed", "deleted"
            self._collect(running)
            if running.state.exit_code != 0:
                if self.restart_policy == "Never":
                    return "Failed", f"init container {running.state.name!r} failed"
                return "Failed", f"init container {running.state.name!r} failed (restarts not supported)"
        containers = self._configure_all(self.pod["spec"]["containers"], self.states)
        if containers is None:
            return "Failed", "stopped before start"
        for running in containers:
            self._launch(running)
        self._report("Running")
        return self._supervise(containers)

    def _configure_all(self, specs: list[JSON], states: list[ContainerState]) -> list[_Running] | None:
        """Environment and argv for each container; waits (CreateContainerConfigError) while a ref is missing."""
        configured: list[_Running] = []
        for container_spec, state in zip(specs, states, strict=True):
            while True:
                try:
                    environment = resolve_environment(
                        self.settings.client, self.pod, container_spec, self._base_environment(),
                        self.settings.host_ip, self.settings.node_allocatable,
                    )  # fmt: skip
                    argv = build_command_line(container_spec, environment, self.settings.image_entrypoints)
                    break
                except ConfigError as error:
                    state.waiting_reason, state.waiting_message = "CreateContainerConfigError", str(error)
                    self._report("Pending")
                    if self.stop_requested.wait(1.0):
                        return None
            configured.append(_Running(state, container_spec, argv, environment, self.container_log(state.name)))
        return configured

    def _base_environment(self) -> dict[str, str]:
        return {**self.settings.base_environment, "HOSTNAME": self.name}

    def _launch(self, running: _Running) -> None:
        working_directory = str(running.spec.get("workingDir") or "")
        cwd = working_directory if working_directory and Path(working_directory).is_dir() else str(self.directory)
        with running.log.open("ab") as output:
            try:
                process = subprocess.Popen(
                    running.argv, env=running.environment, cwd=cwd, stdin=subprocess.DEVNULL,
                    stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            except OSError as error:  # like a runtime that cannot exec: exit code 127/126
                output.write(f"process kubelet: cannot start {running.argv!r}: {error}\n".encode())
                running.process = None
                running.state.started_at = running.state.finished_at = format_time()
                running.state.exit_code = 127 if isinstance(error, FileNotFoundError) else 126
                return
        running.process = process
        self.pids.add(process.pid)
        if all(launched is not running for launched in self._launched):
            self._launched.append(running)
        running.state.pid = process.pid
        running.state.started_at = format_time()
        running.state.exit_code = None
        running.state.finished_at = None

    def _collect(self, running: _Running) -> None:
        if running.process is not None and running.process.returncode is not None:
            running.state.exit_code = _exit_code(running.process.returncode)
            running.state.finished_at = format_time()
            _signal_group(running.process.pid, signal.SIGKILL)  # leftovers of the container's session
            running.process = None

    def _supervise(self, containers: list[_Running]) -> tuple[str, str]:
        while True:
            changed = False
            for running in containers:
                if running.process is not None and running.process.poll() is not None:
                    self._collect(running)
                    changed = True
                    if self._should_restart(running.state):
                        running.restart_at = time.monotonic() + _RESTART_DELAY_SECONDS
                if running.restart_at is not None and time.monotonic() >= running.restart_at:
                    self._restart(running)
                    changed = True
            if all(r.state.terminated and r.restart_at is None for r in containers):
                failed = any(r.state.exit_code != 0 for r in containers)
                return ("Failed" if failed else "Succeeded"), ""
            if changed:
                self._report("Running")
            if self.stop_requested.wait(_POLL_SECONDS):
                return "Failed", "deleted"

    def _should_restart(self, state: ContainerState) -> bool:
        return self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and state.exit_code != 0)

    def _restart(self, running: _Running) -> None:
        state = running.state
        state.last_exit_code, state.last_started_at, state.last_finished_at = (
            state.exit_code, state.started_at, state.finished_at,
        )  # fmt: skip
        state.restart_count += 1
        running.restart_at = None
        self._launch(running)

    def _kill_all(self) -> None:
        """SIGTERM every container still running, wait up to the grace period, SIGKILL the rest."""
        alive = [running for running in self._launched if running.process is not None]
        for running in alive:
            assert running.process is not None
            _signal_group(running.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while any(r.process is not None and r.process.poll() is None for r in alive) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        for running in alive:
            assert running.process is not None
            _signal_group(running.process.pid, signal.SIGKILL)
            running.process.wait()
            self._collect(running)
        for running in self._launched:
            running.restart_at = None

    # -- talking to the API server ---------------------------------------------------------------------------------

    def _report(self, phase: str, message: str = "") -> None:
        status = describe_pod(phase, self.start_time, self.settings.host_ip, self.init_states, self.states, message)
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
        try:
            self.settings.client.patch(path, {"metadata": {"uid": self.uid}, "status": status})
        except ApiError as error:
            if error.status != 404:  # a pod that is gone needs no status
                self.settings.errors.append(f"status of {self.namespace}/{self.name}: {error}")

    def _delete_for_good(self) -> None:
        """What a kubelet does once a deleted pod's containers are gone: delete it with no grace period."""
        body: JSON = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.uid},
        }
        with contextlib.suppress(ApiError):
            self.settings.client.delete(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}", body)
