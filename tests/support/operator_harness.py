"""Running the real operator against the test control plane: a `python -m nago_operator` process (so a test
can SIGKILL it), a real redis-server, small Fashion-MNIST searches, and waits on what `kubectl` would show."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from control_plane import ApiClient, ControlPlane
from control_plane.api import JSON
from control_plane.waiting import wait_for
from helpers import build_small_search
from nago.search.ledger import Ledger
from nago_operator.ledger_store import LEDGER_KEY, decode_ledger, format_ledger_name
from redis_server import PASSWORD, RedisServer, free_port

SEARCHES = "/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches"


def build_search(name: str, strategy: dict[str, Any], max_trials: int, **spec: Any) -> JSON:
    """The small search of the test tiers, with a trial template for the process kubelet."""
    trial = {"image": "nago-trainer:dev", "resources": {}, **spec.pop("trial", {})}
    return build_small_search(name, strategy, max_trials, trial=trial, **spec)


@dataclass
class OperatorProcess:
    """The operator as its own process, watching one namespace."""

    plane: ControlPlane
    redis: RedisServer
    namespace: str
    log_path: Path
    kubeconfig: Path | None = None  # whose identity: the control plane's administrator unless given
    metrics_port: int = 0
    health_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] | None = None  # e.g. NAGO_LEASE_NAME for a replica of several

    def start(self) -> None:
        self.metrics_port, self.health_port = free_port(), free_port()
        env = {
            **os.environ, "KUBECONFIG": str(self.kubeconfig or self.plane.kubeconfig), "NAGO_REDIS_URL": self.redis.url,
            "NAGO_REDIS_PASSWORD": PASSWORD, "NAGO_NAMESPACES": self.namespace, "NAGO_RECONCILE_SECONDS": "0.5",
            "NAGO_METRICS_PORT": str(self.metrics_port), "NAGO_HEALTH_PORT": str(self.health_port),
            "NAGO_CLEANUP_TIMEOUT_SECONDS": "20", "NAGO_LOG_LEVEL": "INFO", **(self.extra_env or {}),
        }  # fmt: skip
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nago_operator"], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def apply_search(kube: ApiClient, namespace: str, document: JSON) -> JSON:
    return kube.create(SEARCHES.format(namespace=namespace), document)


def read_search(kube: ApiClient, namespace: str, name: str) -> JSON:
    return kube.get(f"{SEARCHES.format(namespace=namespace)}/{name}")


def wait_for_phase(
    kube: ApiClient, namespace: str, name: str, phases: tuple[str, ...], operator: OperatorProcess, timeout: float = 300
) -> JSON:
    def reached() -> JSON | None:
        search = read_search(kube, namespace, name)
        if operator.process is not None and operator.process.poll() is not None:
            raise AssertionError(f"the operator exited {operator.process.returncode}:\n{operator.read_log()[-3000:]}")
        return search if (search.get("status") or {}).get("phase") in phases else None

    try:
        return wait_for(f"search {name} in {phases}", reached, timeout=timeout, interval=0.5)
    except TimeoutError:
        print(operator.read_log()[-5000:])
        raise


def read_ledger(kube: ApiClient, namespace: str, name: str) -> Ledger:
    config_map = kube.get(f"/api/v1/namespaces/{namespace}/configmaps/{format_ledger_name(name)}")
    return decode_ledger(config_map["binaryData"][LEDGER_KEY])


def list_jobs(kube: ApiClient, namespace: str, name: str) -> list[JSON]:
    return list(
        kube.get(f"/apis/batch/v1/namespaces/{namespace}/jobs", {"labelSelector": f"nago.dev/search={name}"})["items"]
    )


def list_events(kube: ApiClient, namespace: str, name: str) -> list[JSON]:
    selector = {"fieldSelector": f"involvedObject.name={name},involvedObject.kind=GeneratorSearch"}
    return list(kube.get(f"/api/v1/namespaces/{namespace}/events", selector)["items"])


def wait_until(what: str, probe: Any, timeout: float = 120) -> Any:
    return wait_for(what, probe, timeout=timeout, interval=0.5)
