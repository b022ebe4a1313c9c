"""One batch/v1 Job per trial attempt, built from the search's trial template (docs/design.md §7.8).

The Job name is the trial id plus the attempt (`<search>-0007-a1`), so a restarted operator that creates
it again gets AlreadyExists, never a second Job. Restart policy Never and backoffLimit 0: the engine
counts retries (a retry is a new attempt, hence a new Job). The trainer reads its whole trial from
`--trial-json`; the Redis address and password come from the search's metrics Secret. Pods get the
restricted security context and opt out of service-mesh sidecars, which keep Jobs from completing.
"""

from __future__ import annotations

import json
from typing import Any

from nago.search.ledger import TrialEntry
from nago.search.spec import GeneratorSearch
from nago.search.trials import build_trial_spec

GROUP = "nago.dev"
VERSION = "v1alpha1"
PLURAL = "generatorsearches"
KIND = "GeneratorSearch"
LABEL_SEARCH = "nago.dev/search"
LABEL_TRIAL = "nago.dev/trial"
LABEL_ATTEMPT = "nago.dev/attempt"
LABEL_PURPOSE = "nago.dev/purpose"
CONTAINER = "trainer"
SCRATCH_VOLUME = "nago-tmp"
SECRET_URL_KEY = "url"
SECRET_PASSWORD_KEY = "password"


def format_job_name(trial_id: str, attempt: int) -> str:
    return f"{trial_id}-a{attempt}"


def format_metrics_secret_name(search: str) -> str:
    return f"{search}-metrics"


def format_stream_scope(namespace: str, search: str) -> str:
    """What trainers put in their records and Redis keys: namespace and name, so equal names never mix."""
    return f"{namespace}.{search}"


def build_owner_reference(name: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": name, "uid": uid,
        "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip


def build_trial_job(search: GeneratorSearch, uid: str, trial: TrialEntry, job_ttl_seconds: int) -> dict[str, Any]:
    """The Job that runs one attempt of `trial`."""
    name, namespace = search.metadata.name, search.metadata.namespace or "default"
    template = search.spec.trial
    trial_spec = build_trial_spec(search, trial, checkpoint=None).model_copy(
        update={"search": format_stream_scope(namespace, name)}
    )
    labels = {
        LABEL_SEARCH: name, LABEL_TRIAL: trial.trial_id, LABEL_ATTEMPT: str(trial.attempt),
        LABEL_PURPOSE: trial.purpose.value,
    }  # fmt: skip
    secret = format_metrics_secret_name(name)
    env = [
        *template.env,
        {"name": "NAGO_REDIS_URL", "valueFrom": {"secretKeyRef": {"name": secret, "key": SECRET_URL_KEY}}},
        {"name": "NAGO_REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": SECRET_PASSWORD_KEY}}},
    ]
    # The root filesystem is read-only; the trainer writes only to /tmp (PyTorch's compile cache), an emptyDir
    # unless the template mounts something there itself.
    has_tmp = any(mount.get("mountPath") == "/tmp" for mount in template.volume_mounts)
    scratch_mount = [] if has_tmp else [{"name": SCRATCH_VOLUME, "mountPath": "/tmp"}]
    scratch_volume = [] if has_tmp else [{"name": SCRATCH_VOLUME, "emptyDir": {}}]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": template.image,
        "imagePullPolicy": template.image_pull_policy,
        "command": list(template.command),
        "args": ["--trial-json", trial_spec.model_dump_json(by_alias=True, exclude_none=True)],
        "env": env,
        "resources": template.resources,
        "volumeMounts": [*template.volume_mounts, *scratch_mount],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [*template.volumes, *scratch_volume],
        "nodeSelector": template.node_selector,
        "tolerations": template.tolerations,
        "automountServiceAccountToken": False,
    }
    if template.affinity is not None:
        pod["affinity"] = template.affinity
    if template.service_account_name is not None:
        pod["serviceAccountName"] = template.service_account_name
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": job_ttl_seconds,
        "template": {
            "metadata": {"labels": labels, "annotations": {"sidecar.istio.io/inject": "false"}},
            "spec": pod,
        },
    }
    if template.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = template.active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format_job_name(trial.trial_id, trial.attempt),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                "nago.dev/theta": json.dumps(trial.theta, sort_keys=True),
                "nago.dev/seed": str(trial.seed),
                "nago.dev/budget": str(trial.budget),
            },
            "ownerReferences": [build_owner_reference(name, uid)],
        },
        "spec": spec,
    }
