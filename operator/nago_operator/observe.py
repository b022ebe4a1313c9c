"""From what the cluster shows (trial Jobs, their pods, final records from Redis) to engine events. Pure.

Level-triggered (docs/design.md §7.2): every reconcile looks at every running trial afresh and
says what is true now; the engine ignores what it already knows. The running attempt of each trial has
exactly one Job, named from its trial id and attempt:

- its pod started → TrialStarted; its container terminated → TrialExited with the exit code (a container
  killed for exceeding its memory limit counts as out of memory, which retrying cannot fix);
- the Job failed without a terminated container (deadline, deleted pod) → TrialExited as a run-time failure;
- a final record of the attempt → RecordReceived;
- no Job → it is (re)created: the ledger is stored before Jobs are created, so after a crash this is the
  Job the engine asked for, and the name makes a second create harmless;
- a Job of this search that is not the running attempt of a trial and still runs → deleted (cancelled,
  superseded, suspended or failed), so cancellation is level-triggered too; the Job of a trial whose final
  record arrived while its pod is still exiting is left to finish (its logs stay readable), and so is a Job
  whose container has exited but which the Job controller has not marked finished yet (the watches report the
  pod first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nago.exit_codes import ExitCode
from nago.search.engine import Event, RecordReceived, TrialExited, TrialStarted
from nago.search.ledger import Ledger, TrialEntry, TrialState
from nago.trial.records import FinalRecord
from nago_operator.trial_jobs import CONTAINER, format_job_name


@dataclass
class Observation:
    events: list[Event] = field(default_factory=list)
    missing_jobs: list[TrialEntry] = field(default_factory=list)  # running attempts without a Job
    stray_jobs: list[str] = field(default_factory=list)  # active Jobs that no running attempt owns


def find_condition(job: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in job.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def is_finished(job: Mapping[str, Any]) -> bool:
    return find_condition(job, "Complete") is not None or find_condition(job, "Failed") is not None


def _terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for status in pod.get("status", {}).get("containerStatuses", []) or []:
        if status.get("name") == CONTAINER:
            terminated = (status.get("state") or {}).get("terminated")
            return dict(terminated) if terminated else None
    return None


def _exit_of(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> tuple[int, str | None] | None:
    """(exit code, message) once the attempt is over, else None."""
    for pod in pods:
        terminated = _terminated(pod)
        if terminated is not None:
            code = int(terminated.get("exitCode", ExitCode.RUNTIME_FAILURE))
            if terminated.get("reason") == "OOMKilled":
                return int(ExitCode.OUT_OF_MEMORY), "the container exceeded its memory limit (OOMKilled)"
            message = terminated.get("message") or terminated.get("reason")
            return code, (f"exit code {code}: {message}" if message and code else None)
    failed = find_condition(job, "Failed")
    if failed is not None:
        return int(ExitCode.RUNTIME_FAILURE), f"Job failed: {failed.get('reason')}: {failed.get('message', '')}"
    if find_condition(job, "Complete") is not None:
        return 0, None
    return None


def _has_started(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> bool:
    phases = {pod.get("status", {}).get("phase") for pod in pods}
    return bool(phases & {"Running", "Succeeded", "Failed"}) or is_finished(job)


def observe_cluster(
    ledger: Ledger,
    jobs: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    finals: Mapping[tuple[str, int], FinalRecord],
    now: float,
) -> Observation:
    """Engine events for the running trials, and the Jobs to create or delete."""
    observation = Observation()
    by_name = {job["metadata"]["name"]: job for job in jobs}
    pods_of: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        owner = pod.get("metadata", {}).get("labels", {}).get("job-name")
        if owner:
            pods_of.setdefault(owner, []).append(pod)
    wanted = set()
    for trial in ledger.trials:
        if trial.state is not TrialState.RUNNING:
            continue
        name = format_job_name(trial.trial_id, trial.attempt)
        wanted.add(name)
        record = finals.get((trial.trial_id, trial.attempt))
        if record is not None:
            observation.events.append(RecordReceived(record, now))
        job = by_name.get(name)
        if job is None:
            if record is None:
                observation.missing_jobs.append(trial)
            continue
        job_pods = pods_of.get(name, [])
        if trial.started_at is None and _has_started(job, job_pods):
            observation.events.append(TrialStarted(trial.trial_id, trial.attempt, now))
        ended = _exit_of(job, job_pods)
        if ended is not None:
            code, message = ended
            observation.events.append(TrialExited(trial.trial_id, trial.attempt, code, now, message))
    keep = wanted | {format_job_name(t.trial_id, t.attempt) for t in ledger.trials if t.state is TrialState.SUCCEEDED}
    observation.stray_jobs = sorted(
        name for name, job in by_name.items()
        if name not in keep and not is_finished(job) and _exit_of(job, pods_of.get(name, [])) is None
    )  # fmt: skip
    return observation
