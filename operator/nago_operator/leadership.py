"""One active replica among several: a coordination.k8s.io/v1 Lease (docs/design.md §7.7).

kopf's own peering pauses every peer of equal priority, so replicas of one Deployment cannot use it to pick one
active; this is the rule Kubernetes' own controllers follow (client-go's leader election), written out:

- a replica acquires the Lease when nobody holds it, or when the holder's record has not changed for
  `lease_seconds` of this replica's own clock (the holder's clock is never compared with ours);
- the holder renews it every `retry_seconds`; if it cannot renew for `renew_deadline_seconds` (shorter than
  `lease_seconds`) it stops acting — the process exits and its pod restarts as a standby — before any other
  replica may take the Lease, so two replicas never act at once;
- every write carries the resourceVersion it read: of two replicas racing for an expired Lease one gets 409
  Conflict and stays standby;
- a holder that stops normally hands the Lease back (empty holder), so the standby takes over at once.

Taking over is safe because the operator's state is in the cluster and Redis, and every action is idempotent:
Job names are the attempt's, the ledger is stored before Jobs are created, and records are acknowledged only
once the ledger holding them is stored (docs/design.md §3.4–3.5).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from nago_operator.kube_api import JSON, KubeApi, KubeError

log = logging.getLogger("nago_operator")


@dataclass(frozen=True)
class LeaseTimings:
    lease_seconds: float = 15.0  # a record unchanged this long (our clock) is free to take
    renew_deadline_seconds: float = 10.0  # the holder gives up acting when it could not renew for this long
    retry_seconds: float = 2.0  # how often the holder renews and a standby tries


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Acquires and keeps the Lease `namespace/name` for `identity`."""

    def __init__(
        self, kube: KubeApi, namespace: str, name: str, identity: str, timings: LeaseTimings | None = None
    ) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.timings = timings or LeaseTimings()
        if not self.timings.retry_seconds < self.timings.renew_deadline_seconds < self.timings.lease_seconds:
            raise ValueError("lease timings: retry < renew deadline < lease duration is required")
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.observed: JSON | None = None  # the last spec we read
        self.observed_at = 0.0  # when it last changed, on our monotonic clock
        self.stopped = threading.Event()
        self.renewer: threading.Thread | None = None

    # ---- one attempt -----------------------------------------------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """One round: True when this replica holds the Lease afterwards."""
        try:
            lease = self.kube.get(f"{self.path}/{self.name}")
        except KubeError as error:
            if error.status != 404:
                raise
            return self._create()
        spec = dict(lease.get("spec") or {})
        if spec != self.observed:
            self.observed, self.observed_at = spec, time.monotonic()
        holder = spec.get("holderIdentity") or ""
        expired = time.monotonic() - self.observed_at > float(spec.get("leaseDurationSeconds") or 0)
        if holder and holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        lease["spec"] = self._spec(transitions, acquired=spec.get("acquireTime") if holder == self.identity else None)
        try:
            answer = self.kube.replace(f"{self.path}/{self.name}", lease)  # carries the resourceVersion read
        except KubeError as error:
            if error.status == 409:  # another replica wrote first
                return False
            raise
        self.observed, self.observed_at = dict(answer.get("spec") or {}), time.monotonic()
        if holder != self.identity:
            log.info("lease %s/%s: acquired (from %r)", self.namespace, self.name, holder or "nobody")
        return True

    def _spec(self, transitions: int, acquired: str | None) -> JSON:
        now = _now_text()
        return {
            "holderIdentity": self.identity, "leaseDurationSeconds": max(1, round(self.timings.lease_seconds)),
            "acquireTime": acquired or now, "renewTime": now, "leaseTransitions": transitions,
        }  # fmt: skip

    def _create(self) -> bool:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec(0, None)}  # fmt: skip
        try:
            answer = self.kube.create(self.path, body)
        except KubeError as error:
            if error.status == 409:
                return False
            raise
        self.observed, self.observed_at = dict(answer.get("spec") or {}), time.monotonic()
        log.info("lease %s/%s: created and acquired", self.namespace, self.name)
        return True

    # ---- the loops -------------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Block until this replica holds the Lease (True) or `stop` is called (False)."""
        waiting_logged = False
        while not self.stopped.is_set():
            try:
                if self.try_acquire_or_renew():
                    return True
            except KubeError as error:
                log.warning("lease %s/%s: %s", self.namespace, self.name, error)
            if not waiting_logged:
                holder = (self.observed or {}).get("holderIdentity")
                log.info("lease %s/%s: standby (held by %r)", self.namespace, self.name, holder)
                waiting_logged = True
            self.stopped.wait(self.timings.retry_seconds)
        return False

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew in a daemon thread; `on_lost` is called once if renewing fails for the renew deadline."""

        def renew() -> None:
            last = time.monotonic()
            while not self.stopped.wait(self.timings.retry_seconds):
                try:
                    if self.try_acquire_or_renew():
                        last = time.monotonic()
                        continue
                    reason = "another replica holds it"
                except KubeError as error:
                    reason = str(error)
                if time.monotonic() - last > self.timings.renew_deadline_seconds or reason.startswith("another"):
                    log.error("lease %s/%s: lost (%s); this replica stops acting", self.namespace, self.name, reason)
                    on_lost()
                    return

        self.renewer = threading.Thread(target=renew, name="lease-renewer", daemon=True)
        self.renewer.start()

    def release(self) -> None:
        """Stop renewing and hand the Lease back, so a standby takes over without waiting for it to expire."""
        self.stopped.set()
        if self.renewer is not None:
            self.renewer.join(self.timings.retry_seconds + 35)
        try:
            lease = self.kube.get(f"{self.path}/{self.name}")
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"] = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
            self.kube.replace(f"{self.path}/{self.name}", lease)
            log.info("lease %s/%s: released", self.namespace, self.name)
        except KubeError as error:
            log.warning("lease %s/%s: not released (%s); it expires by itself", self.namespace, self.name, error)
