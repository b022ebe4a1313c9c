"""One level-triggered reconcile of one GeneratorSearch: observe, step the engine, store, act, report.

Runs in a worker thread (the proposer may take seconds; the event loop never waits for it), one call at
a time per search. The order of the writes is what makes a crash at any point harmless (docs/design.md §3.4–3.5):

1. observe: the trial Jobs and pods of the search (as the operator's watches last saw them, `informer.py`), and
   final records from its Redis stream;
2. the engine's step (pure) from the stored ledger and what was observed;
3. store the new ledger (the ConfigMap) — before anything it asks for happens;
4. acknowledge the records whose effect the stored ledger now holds;
5. act: create the Jobs of running attempts (deterministic names: a repeat is AlreadyExists), delete the
   Jobs no running attempt owns;
6. write the status (the only writer of `.status`) and post the Events of what changed.

A crash before 3 loses nothing (the records are re-read, the Jobs re-observed); between 3 and 5 the next
reconcile finds running attempts without Jobs and creates them. Redis being away only delays records.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from nago.errors import InvalidInputError
from nago.generator.spaces import ParamKind
from nago.search.engine import CancelTrial, Event, LaunchTrial, Step, format_trial_id, reconcile
from nago.search.inbox import StreamInbox
from nago.search.ledger import Ledger, SearchPhase, TrialEntry, TrialPurpose, TrialState
from nago.search.spec import API_VERSION, KIND, GeneratorSearch, GeneratorSearchSpec, list_spec_warnings, parse_search
from nago.search.status import Condition, build_status, format_timestamp
from nago.trial.metrics_stream import MetricsStreamReader
from nago_operator import operator_metrics as metrics
from nago_operator.informer import TrialObjects
from nago_operator.kube_api import KubeApi, KubeError
from nago_operator.ledger_store import LedgerStore
from nago_operator.observe import observe_cluster
from nago_operator.record_watcher import RecordWatcher
from nago_operator.search_events import NORMAL, WARNING, SearchEvent, describe_changes
from nago_operator.settings import OperatorSettings
from nago_operator.trial_jobs import (
    GROUP,
    LABEL_SEARCH,
    PLURAL,
    SECRET_PASSWORD_KEY,
    SECRET_URL_KEY,
    VERSION,
    build_owner_reference,
    build_trial_job,
    format_job_name,
    format_metrics_secret_name,
    format_stream_scope,
)

MAX_BAD_RECORD_EVENTS = 5  # per reconcile; the rest are counted in one more Event
MAX_EVENT_MESSAGE = 1000
StepEngine = Callable[[GeneratorSearchSpec, Ledger, list[Event], float], Step]  # nago.search.engine.reconcile's type
log = logging.getLogger("nago_operator")


class SearchReconciler:
    """The operator's memory of one search: its ledger store, its stream reader, what it last wrote."""

    def __init__(
        self, kube: KubeApi, redis_client: Any, settings: OperatorSettings, namespace: str, name: str, uid: str,
        objects: TrialObjects, records: RecordWatcher | None = None,
    ) -> None:  # fmt: skip
        self.kube, self.redis, self.settings = kube, redis_client, settings
        self.objects, self.records = objects, records
        self.namespace, self.name, self.uid = namespace, name, uid
        self.store = LedgerStore(kube, namespace, name, uid)
        self.scope = format_stream_scope(namespace, name)
        self.ledger: Ledger | None = None
        self.inbox: StreamInbox | None = None
        self.redis_reachable = True
        self.secret_ready = False
        self.last_status: dict[str, Any] | None = None
        self.rejected_generation: int | None = None
        self.checked_generation: int | None = None  # the spec generation whose trial Job the server admitted
        self.bad_records: list[str] = []
        self.lock = threading.Lock()
        self.closed = False
        self.jobs_path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        self.status_path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"

    # ---- the reconcile ---------------------------------------------------------------------------

    def reconcile(self, body: Mapping[str, Any], step_engine: StepEngine | None = None) -> None:
        """One pass, the engine stepped by `step_engine` (default: here, `nago.search.engine.reconcile`);
        exceptions propagate to the caller, which logs them and tries again later."""
        with self.lock:
            if self.closed or body.get("metadata", {}).get("deletionTimestamp"):
                return
            started = time.monotonic()
            try:
                self._reconcile(body, step_engine or reconcile)
            finally:
                metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)

    def _reconcile(self, body: Mapping[str, Any], step_engine: StepEngine) -> None:
        generation = body.get("metadata", {}).get("generation")
        try:
            search = self._parse(body)
        except InvalidInputError as error:
            self._reject(generation, error)
            return
        if generation is not None and generation == self.rejected_generation:
            return  # its trial Job was refused: nothing to do until the spec changes
        if generation is None or generation != self.checked_generation:
            try:
                self._check_trial_job(search)
            except InvalidInputError as error:
                self._reject(generation, error)
                return
            self.checked_generation = generation
            for warning in list_spec_warnings(search.spec):  # once per generation (and operator start)
                self.post_event(SearchEvent(WARNING, "SpecWarning", warning))
        self.rejected_generation = None
        self._ensure_metrics_secret()
        if self.ledger is None:
            self.ledger = self.store.load() or Ledger(search=self.name)
        inbox = self._collect_records()
        jobs = self.objects.list_jobs(self.namespace, self.name)
        pods = self.objects.list_pods(self.namespace, self.name)
        now = time.time()
        observation = observe_cluster(self.ledger, jobs, pods, inbox.finals if inbox is not None else {}, now)
        stepped = time.monotonic()
        step = step_engine(search.spec, self.ledger, observation.events, now)
        metrics.PROPOSER_SECONDS.observe(time.monotonic() - stepped)
        self.store.save(step.ledger)
        self._acknowledge()
        before, self.ledger = self.ledger, step.ledger
        running = {(t.trial_id, t.attempt) for t in step.ledger.trials if t.state is TrialState.RUNNING}
        for trial in observation.missing_jobs:
            if (trial.trial_id, trial.attempt) in running:
                self._create_job(search, step.ledger.get(trial.trial_id) or trial)
        for action in step.actions:
            if isinstance(action, LaunchTrial):
                self._create_job(search, action.trial)
            elif isinstance(action, CancelTrial):
                self._delete_job(format_job_name(action.trial_id, action.attempt))
        for job in observation.stray_jobs:
            self._delete_job(job)
        self._write_status(search, step.ledger, generation)
        for event in describe_changes(before, step.ledger):
            self.post_event(event)
        self._post_bad_records()
        self._export_counts(step.ledger)

    def _parse(self, body: Mapping[str, Any]) -> GeneratorSearch:
        metadata = body.get("metadata", {})
        return parse_search({
            "apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid,
                         "generation": metadata.get("generation")},
            "spec": body.get("spec") or {},
        })  # fmt: skip

    def _check_trial_job(self, search: GeneratorSearch) -> None:
        """Have the API server admit (dry run: nothing is stored) the Job of a first trial, so a trial
        template it cannot turn into a Job (e.g. `env: [{foo: bar}]`, `cpu: lots`) fails the search
        with the server's reason before any trial is recorded."""
        space = search.spec.space.build()
        sample = TrialEntry(
            trial_id=format_trial_id(self.name, TrialPurpose.SEARCH, 0), index=0, seed=0, budget=1,
            theta={p.name: p.low if p.kind is ParamKind.FLOAT else int(p.low) for p in space.params},
        )  # fmt: skip
        job = build_trial_job(search, self.uid, sample, self.settings.job_ttl_seconds)
        job["metadata"]["name"] = f"{job['metadata']['name']}-check"  # never the name of a real trial's Job
        try:
            self.kube.create(self.jobs_path, job, dry_run=True)
        except KubeError as error:
            if error.status == 409:
                return  # admitted up to the name
            if error.status not in (400, 422):
                raise
            raise InvalidInputError("trial", f"the API server refuses the trial Job: {error.message}") from None

    def _reject(self, generation: int | None, error: InvalidInputError) -> None:
        """A spec the CRD schema let through but the models refuse (e.g. a range outside its hard limits)."""
        if self.rejected_generation == generation:
            return
        self.rejected_generation = generation
        message = f"spec.{error.field}: {error.message}" if error.field != "manifest" else error.message
        condition = Condition(type="Failed", status="True", reason="InvalidSpec", message=message,
                              last_transition_time=format_timestamp(time.time()))  # fmt: skip
        status = {"phase": SearchPhase.FAILED.value, "observedGeneration": generation,
                  "conditions": [condition.model_dump(by_alias=True, mode="json")]}  # fmt: skip
        self.kube.patch(self.status_path, {"status": status})
        self.last_status = None
        self.post_event(SearchEvent(WARNING, "InvalidSpec", message))

    # ---- metrics from Redis ----------------------------------------------------------------------

    def _collect_records(self) -> StreamInbox | None:
        """Read the search's stream into its inbox; None while Redis cannot be reached (records wait there)."""
        import redis

        try:
            if self.inbox is None:
                if self.records is not None:
                    self.records.register(self.namespace, self.name)  # before the first read: nothing slips by
                self.inbox = StreamInbox(MetricsStreamReader(self.redis, self.scope, consumer="operator",
                                                             on_bad_record=self._note_bad_record))  # fmt: skip
            read = self.inbox.collect()
            metrics.REDIS_LAG.labels(self.namespace, self.name).set(self.inbox.reader.count_unread() - read)
        except redis.RedisError as error:
            if self.redis_reachable:
                log.warning("search %s/%s: Redis unreachable (%s); records wait there", self.namespace, self.name,
                            error)  # fmt: skip
            self.redis_reachable = False
            return self.inbox
        if not self.redis_reachable:
            log.info("search %s/%s: Redis reachable again", self.namespace, self.name)
        self.redis_reachable = True
        return self.inbox

    def _acknowledge(self) -> None:
        import redis

        if self.inbox is None:
            return
        try:
            self.inbox.acknowledge()
        except redis.RedisError as error:  # they come back unacknowledged and are applied idempotently
            log.warning("search %s/%s: acknowledging records failed (%s)", self.namespace, self.name, error)

    def _note_bad_record(self, message_id: str, reason: str) -> None:
        log.warning("search %s/%s: dropped metric record %s: %s", self.namespace, self.name, message_id, reason)
        metrics.BAD_RECORDS.labels(self.namespace).inc()
        self.bad_records.append(f"record {message_id}: {reason[:200]}")

    def _post_bad_records(self) -> None:
        shown, rest = self.bad_records[:MAX_BAD_RECORD_EVENTS], self.bad_records[MAX_BAD_RECORD_EVENTS:]
        for text in shown:
            self.post_event(SearchEvent(WARNING, "BadMetricsRecord", f"dropped {text}"))
        if rest:
            self.post_event(SearchEvent(WARNING, "BadMetricsRecord", f"dropped {len(rest)} more bad records"))
        self.bad_records = []

    # ---- Kubernetes objects ----------------------------------------------------------------------

    def _ensure_metrics_secret(self) -> None:
        """The Secret trial pods read the Redis address and password from (owned by the search)."""
        if self.secret_ready:
            return
        name = format_metrics_secret_name(self.name)
        body = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {LABEL_SEARCH: self.name},
                         "ownerReferences": [build_owner_reference(self.name, self.uid)]},
            "stringData": {SECRET_URL_KEY: self.settings.pod_redis_url,
                           SECRET_PASSWORD_KEY: self.settings.redis_password},
        }  # fmt: skip
        path = f"/api/v1/namespaces/{self.namespace}/secrets"
        try:
            self.kube.create(path, body)
        except KubeError as error:
            if error.status != 409:
                raise
            self.kube.replace(f"{path}/{name}", body)  # the address or password may have changed
        self.secret_ready = True

    def _create_job(self, search: GeneratorSearch, trial: Any) -> None:
        job = build_trial_job(search, self.uid, trial, self.settings.job_ttl_seconds)
        try:
            self.kube.create(self.jobs_path, job)
        except KubeError as error:
            if error.status == 409:
                return  # created before a restart: the name is the attempt's
            raise
        metrics.JOBS_CREATED.labels(self.namespace).inc()

    def _delete_job(self, name: str) -> None:
        try:
            self.kube.delete(f"{self.jobs_path}/{name}", {"propagationPolicy": "Background"})
        except KubeError as error:
            if error.status != 404:
                raise

    def _write_status(self, search: GeneratorSearch, ledger: Ledger, generation: int | None) -> None:
        status = build_status(search.spec, ledger, generation).model_dump(by_alias=True, mode="json")
        if status == self.last_status:
            return
        self.kube.patch(self.status_path, {"status": status})
        self.last_status = status

    def post_event(self, event: SearchEvent) -> None:
        """A core/v1 Event on the search; a failure to post is logged, never raised."""
        now = format_timestamp(time.time())
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{self.name}.", "namespace": self.namespace},
            "involvedObject": {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": self.name,
                               "namespace": self.namespace, "uid": self.uid},
            "type": event.type if event.type in (NORMAL, WARNING) else NORMAL,
            "reason": event.reason, "message": event.message[:MAX_EVENT_MESSAGE],
            "source": {"component": "nago-operator"}, "reportingComponent": "nago.dev/operator",
            "reportingInstance": os.environ.get("HOSTNAME", socket.gethostname()),
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }  # fmt: skip
        try:
            self.kube.create(f"/api/v1/namespaces/{self.namespace}/events", body)
        except KubeError as error:
            log.warning("search %s/%s: cannot post event %s: %s", self.namespace, self.name, event.reason, error)

    def _export_counts(self, ledger: Ledger) -> None:
        for state in TrialState:
            count = sum(t.state is state for t in ledger.trials)
            metrics.TRIALS.labels(self.namespace, self.name, state.value).set(count)

    # ---- deletion --------------------------------------------------------------------------------

    def clean_up(self, deadline: float) -> list[str]:
        """On deletion: stop reconciling, delete the Jobs, wait (until `deadline`) for their pods to go, then
        delete the search's Redis keys. Gives up at the deadline; returns what it could not do."""
        with self.lock:
            self.closed = True
        problems: list[str] = []
        if self.records is not None:
            self.records.unregister(self.namespace, self.name)
        try:
            for job in self.objects.list_jobs(self.namespace, self.name):
                self._delete_job(job["metadata"]["name"])
            while self.objects.list_pods(self.namespace, self.name):
                if time.monotonic() > deadline:
                    problems.append("trial pods still running at the deadline")
                    break
                time.sleep(0.5)
        except KubeError as error:
            problems.append(f"deleting trial Jobs: {error}")
        problems.extend(delete_redis_keys(self.redis, self.scope, deadline))
        metrics.forget_search(self.namespace, self.name)
        return problems


def delete_redis_keys(client: Any, scope: str, deadline: float) -> list[str]:
    """Delete `nago:<scope>:*` (the stream and the trainers' delivery marks); gives up at `deadline`."""
    import redis

    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"nago:{scope}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch = []
            if time.monotonic() > deadline:
                return ["Redis keys: gave up at the deadline"]
        if batch:
            client.unlink(*batch)
    except redis.RedisError as error:
        return [f"Redis keys not deleted: {error}"]
    return []
