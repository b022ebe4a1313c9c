"""The Lease rule (nago_operator.leadership) against an in-memory API server that keeps resourceVersions the way
the real one does (a write with a stale version is 409 Conflict); the control plane test kills real replicas."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from nago_operator import leadership
from nago_operator.kube_api import JSON, KubeError
from nago_operator.leadership import LeaseElector, LeaseTimings

TIMINGS = LeaseTimings(lease_seconds=15.0, renew_deadline_seconds=10.0, retry_seconds=2.0)
PATH = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"


class LeaseServer:
    """Objects by path with resourceVersion checks; `down` makes every request fail as unreachable."""

    def __init__(self) -> None:
        self.objects: dict[str, JSON] = {}
        self.version = 0
        self.down = False
        self.lock = threading.Lock()

    def _check(self, method: str, path: str) -> None:
        if self.down:
            raise KubeError(method, path, 0, {"reason": "Unreachable"})

    def get(self, path: str) -> JSON:
        self._check("GET", path)
        with self.lock:
            if path not in self.objects:
                raise KubeError("GET", path, 404, {"reason": "NotFound"})
            return copy.deepcopy(self.objects[path])

    def create(self, path: str, body: JSON) -> JSON:
        self._check("POST", path)
        with self.lock:
            target = f"{path}/{body['metadata']['name']}"
            if target in self.objects:
                raise KubeError("POST", path, 409, {"reason": "AlreadyExists"})
            return self._store(target, body)

    def replace(self, path: str, body: JSON) -> JSON:
        self._check("PUT", path)
        with self.lock:
            current = self.objects.get(path)
            if current is None:
                raise KubeError("PUT", path, 404, {"reason": "NotFound"})
            if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                raise KubeError("PUT", path, 409, {"reason": "Conflict"})
            return self._store(path, body)

    def _store(self, path: str, body: JSON) -> JSON:
        self.version += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[path] = stored
        return copy.deepcopy(stored)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(leadership.time, "monotonic", fake)
    return fake


def _elector(server: LeaseServer, identity: str) -> LeaseElector:
    return LeaseElector(server, "ops", "nago", identity, TIMINGS)  # type: ignore[arg-type]  # the fake's surface


def _holder(server: LeaseServer) -> Any:
    return server.objects[f"{PATH}/nago"]["spec"]["holderIdentity"]


def test_the_first_replica_creates_the_lease_and_the_second_waits_until_it_expires(clock: Clock) -> None:
    server = LeaseServer()
    first, second = _elector(server, "a"), _elector(server, "b")
    assert first.try_acquire_or_renew() and _holder(server) == "a"
    assert not second.try_acquire_or_renew()
    clock.now += 14.0  # a renewed record is a changed record: the standby's clock starts again
    assert first.try_acquire_or_renew()
    clock.now += 14.0
    assert not second.try_acquire_or_renew()
    clock.now += 16.0  # the holder went silent: unchanged for longer than leaseDurationSeconds on b's clock
    assert second.try_acquire_or_renew() and _holder(server) == "b"
    assert server.objects[f"{PATH}/nago"]["spec"]["leaseTransitions"] == 1
    assert not first.try_acquire_or_renew()  # the old holder sees b's fresh record: it must not act


def test_of_two_standbys_racing_for_an_expired_lease_exactly_one_wins(clock: Clock) -> None:
    server = LeaseServer()
    assert _elector(server, "old").try_acquire_or_renew()
    racers = [_elector(server, name) for name in ("b", "c")]
    for racer in racers:
        assert not racer.try_acquire_or_renew()
    clock.now += 20.0
    stale = server.get(f"{PATH}/nago")
    original_get = server.get
    server.get = lambda path: copy.deepcopy(stale)  # type: ignore[method-assign]  # both read the same version
    results = [racer.try_acquire_or_renew() for racer in racers]
    server.get = original_get  # type: ignore[method-assign]
    assert results == [True, False]  # the second write carries a stale resourceVersion: 409
    assert _holder(server) == "b"


def test_a_released_lease_is_taken_at_once(clock: Clock) -> None:
    server = LeaseServer()
    first, second = _elector(server, "a"), _elector(server, "b")
    assert first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()
    first.release()
    assert _holder(server) == ""
    assert second.try_acquire_or_renew() and _holder(server) == "b"  # no waiting for the expiry


def test_a_holder_that_cannot_renew_gives_up_within_the_renew_deadline() -> None:
    server = LeaseServer()
    timings = LeaseTimings(lease_seconds=0.6, renew_deadline_seconds=0.3, retry_seconds=0.05)
    elector = LeaseElector(server, "ops", "nago", "a", timings)  # type: ignore[arg-type]  # the fake's surface
    assert elector.try_acquire_or_renew()
    lost = threading.Event()
    elector.keep(lost.set)
    assert not lost.wait(0.4)  # renewing fine
    server.down = True
    assert lost.wait(5.0)  # gave up: the deadline (0.3 s) is shorter than the lease (0.6 s)
    elector.stopped.set()


@pytest.mark.parametrize(("lease", "deadline", "retry"), [(15.0, 15.0, 2.0), (15.0, 10.0, 10.0), (15.0, 20.0, 2.0)])
def test_timings_must_order_retry_deadline_and_lease(lease: float, deadline: float, retry: float) -> None:
    with pytest.raises(ValueError, match="retry < renew deadline < lease"):
        LeaseElector(LeaseServer(), "ops", "nago", "a", LeaseTimings(lease, deadline, retry))  # type: ignore[arg-type]
