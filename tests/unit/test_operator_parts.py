"""The operator's pure parts: trial Job manifests, Events from ledger changes, settings, the ledger's encoding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nago.errors import InvalidInputError
from nago.exit_codes import ExitCode
from nago.search.ledger import Ledger, SearchPhase, TrialEntry, TrialResult, TrialState
from nago.search.spec import parse_search
from nago.trial.spec import TrialSpec
from nago_operator.ledger_store import MAX_CONFIGMAP_BYTES, LedgerTooLargeError, decode_ledger, encode_ledger
from nago_operator.search_events import describe_changes
from nago_operator.settings import read_settings
from nago_operator.trial_jobs import build_trial_job, format_job_name

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fashion-mnist-quickstart.yaml"
REDIS = {"NAGO_REDIS_URL": "redis://redis:6379/0", "NAGO_REDIS_PASSWORD": "pw"}


def _search(**trial_template: object) -> object:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["metadata"]["namespace"] = "team"
    document["spec"]["trial"] = {"image": "registry/trainer:1", **trial_template}
    return parse_search(document)


def _trial(state: TrialState = TrialState.RUNNING, attempt: int = 0, retries: int = 0, **more: object) -> TrialEntry:
    return TrialEntry(trial_id="s-0003", index=3, theta={"top_nodes": 4, "top_p": 0.5}, seed=42, budget=2,
                      state=state, attempt=attempt, retries=retries, **more)  # type: ignore[arg-type]  # fmt: skip


def test_the_job_carries_the_trial_the_template_and_the_metrics_secret() -> None:
    search = _search(
        resources={"limits": {"nvidia.com/gpu": "1"}}, nodeSelector={"gpu": "h100"},
        tolerations=[{"key": "gpu", "operator": "Exists"}], serviceAccountName="trainer", activeDeadlineSeconds=600,
        env=[{"name": "EXTRA", "value": "1"}], volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
    )  # fmt: skip
    job = build_trial_job(search, "uid-1", _trial(attempt=2), job_ttl_seconds=60)  # type: ignore[arg-type]
    assert job["metadata"]["name"] == "s-0003-a2" == format_job_name("s-0003", 2)
    assert job["metadata"]["labels"] == {"nago.dev/search": "fashion-mnist-quickstart", "nago.dev/trial": "s-0003",
                                         "nago.dev/attempt": "2", "nago.dev/purpose": "search"}  # fmt: skip
    assert json.loads(job["metadata"]["annotations"]["nago.dev/theta"]) == {"top_nodes": 4, "top_p": 0.5}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 60 and spec["activeDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["nodeSelector"] == {"gpu": "h100"}
    assert pod["serviceAccountName"] == "trainer" and pod["volumes"][0]["name"] == "data"
    [container] = pod["containers"]
    assert container["image"] == "registry/trainer:1" and container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True  # /tmp is the trainer's only scratch
    assert pod["volumes"][1] == {"name": "nago-tmp", "emptyDir": {}}
    assert container["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "nago-tmp", "mountPath": "/tmp"},
    ]
    argument = json.loads(container["args"][container["args"].index("--trial-json") + 1])
    assert argument["trialId"] == "s-0003"  # camelCase, as in manifests
    trial = TrialSpec.model_validate(argument)
    assert (trial.search, trial.trial_id, trial.attempt, trial.seed) == (
        "team.fashion-mnist-quickstart",
        "s-0003",
        2,
        42,
    )
    assert trial.protocol.epochs == 2 and trial.theta == {"top_nodes": 4, "top_p": 0.5}
    env = {e["name"]: e for e in container["env"]}
    assert env["EXTRA"]["value"] == "1"
    assert env["NAGO_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "fashion-mnist-quickstart-metrics", "key": "password"}  # fmt: skip


def _ledger(phase: SearchPhase, *trials: TrialEntry) -> Ledger:
    return Ledger(search="s", phase=phase, trials=list(trials))


RUNNING, PENDING = SearchPhase.RUNNING, SearchPhase.PENDING
RESULT = TrialResult(accuracy=0.81, memory=1.2e6, params=5000)
EVENT_CASES = [
    ("launched", _ledger(PENDING, _trial(TrialState.PENDING)), _ledger(RUNNING, _trial()), ["TrialLaunched"]),
    ("unchanged", _ledger(RUNNING, _trial()), _ledger(RUNNING, _trial()), []),
    ("succeeded", _ledger(RUNNING, _trial()), _ledger(RUNNING, _trial(TrialState.SUCCEEDED, result=RESULT)),
     ["TrialSucceeded"]),
    ("failed", _ledger(RUNNING, _trial()), _ledger(RUNNING, _trial(TrialState.FAILED, reason="BadInput")),
     ["TrialFailed"]),
    ("retried and relaunched", _ledger(RUNNING, _trial()),
     _ledger(RUNNING, _trial(attempt=1, retries=1, reason="RunTimeError")), ["TrialRetried", "TrialLaunched"]),
    ("lost and relaunched: no retry", _ledger(RUNNING, _trial()), _ledger(RUNNING, _trial(attempt=1, reason="Lost")),
     ["TrialLaunched"]),
    ("suspended", _ledger(RUNNING, _trial()),
     _ledger(SearchPhase.SUSPENDED, _trial(TrialState.PENDING, attempt=1, reason="Suspended")), ["SearchSuspended"]),
    ("resumed", _ledger(SearchPhase.SUSPENDED), _ledger(RUNNING), ["SearchResumed"]),
    ("finished", _ledger(RUNNING), _ledger(SearchPhase.SUCCEEDED), ["SearchSucceeded"]),
    ("failed search", _ledger(RUNNING), _ledger(SearchPhase.FAILED), ["SearchFailed"]),
    ("continued", _ledger(SearchPhase.SUCCEEDED), _ledger(RUNNING), ["SearchContinued"]),
    ("withdrawn", _ledger(RUNNING, _trial()), _ledger(RUNNING), ["TrialWithdrawn"]),
    ("final raised", _ledger(SearchPhase.SUCCEEDED), _ledger(SearchPhase.FINAL_EVALUATION, _trial()),
     ["TrialLaunched", "FinalEvaluation"]),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "reasons"), [c[1:] for c in EVENT_CASES], ids=[c[0] for c in EVENT_CASES])
def test_events_of_a_ledger_change(old: Ledger, new: Ledger, reasons: list[str]) -> None:
    assert [e.reason for e in describe_changes(old, new)] == reasons


def test_a_success_event_names_accuracy_and_memory() -> None:
    [event] = describe_changes(
        _ledger(RUNNING, _trial()), _ledger(RUNNING, _trial(TrialState.SUCCEEDED, result=RESULT))
    )
    assert "0.8100" in event.message and "1.20 MB" in event.message and event.type == "Normal"


SETTINGS_ERRORS = [
    ({}, "NAGO_REDIS_URL"),
    ({"NAGO_REDIS_URL": "http://x"}, "NAGO_REDIS_URL"),
    ({"NAGO_REDIS_URL": "redis://x"}, "NAGO_REDIS_PASSWORD"),
    ({**REDIS, "NAGO_WORKERS": "0"}, "NAGO_WORKERS"),
    ({**REDIS, "NAGO_WORKERS": "many"}, "NAGO_WORKERS"),
    ({**REDIS, "NAGO_LOG_LEVEL": "LOUD"}, "NAGO_LOG_LEVEL"),
    ({**REDIS, "NAGO_METRICS_PORT": "70000"}, "NAGO_METRICS_PORT"),
    ({**REDIS, "NAGO_RECONCILE_SECONDS": "0"}, "NAGO_RECONCILE_SECONDS"),
]


@pytest.mark.parametrize(("environment", "variable"), SETTINGS_ERRORS)
def test_bad_settings_name_the_variable(environment: dict[str, str], variable: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        read_settings(environment)
    assert error.value.field == variable


def test_settings_from_the_environment() -> None:
    settings = read_settings({**REDIS, "NAGO_NAMESPACES": "a, b,", "NAGO_WORKERS": "8"})
    assert settings.namespaces == ["a", "b"] and settings.workers == 8
    assert settings.pod_redis_url == "redis://redis:6379/0"


def test_the_ledger_round_trips_and_refuses_to_outgrow_a_configmap() -> None:
    trials = [_trial(TrialState.SUCCEEDED, result=RESULT).model_copy(update={"trial_id": f"s-{i:04d}", "index": i})
              for i in range(300)]  # fmt: skip
    ledger = Ledger(search="s", trials=trials, proposer_state={"x": [0.1] * 100})
    encoded = encode_ledger(ledger)
    assert decode_ledger(encoded) == ledger and encode_ledger(ledger) == encoded  # deterministic
    noise = Ledger(search="s", proposer_state={"noise": [i * 0.7919 % 1 for i in range(200_000)]})
    with pytest.raises(LedgerTooLargeError, match=str(MAX_CONFIGMAP_BYTES)):
        encode_ledger(noise)


def test_the_operator_refuses_to_start_without_redis_settings() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NAGO_")}
    run = subprocess.run([sys.executable, "-m", "nago_operator"], env=environment, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == ExitCode.BAD_INPUT and "NAGO_REDIS_URL" in run.stderr and "Traceback" not in run.stderr


def test_a_template_that_mounts_its_own_tmp_gets_no_second_one() -> None:
    search = _search(
        volumes=[{"name": "scratch", "emptyDir": {"medium": "Memory"}}],
        volumeMounts=[{"name": "scratch", "mountPath": "/tmp"}],
    )
    job = build_trial_job(search, "uid-1", _trial(attempt=0), job_ttl_seconds=60)  # type: ignore[arg-type]
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]
