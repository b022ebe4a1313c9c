"""The operator's settings, from the environment (the Helm chart sets them) or the command line.

Every variable is optional except the Redis address and password; a bad value stops the operator at start
with a message naming the variable and what it accepts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nago.errors import InvalidInputError

ENVIRONMENT = {
    "namespaces": "NAGO_NAMESPACES",
    "redis_url": "NAGO_REDIS_URL",
    "redis_password": "NAGO_REDIS_PASSWORD",
    "trial_redis_url": "NAGO_TRIAL_REDIS_URL",
    "log_level": "NAGO_LOG_LEVEL",
    "workers": "NAGO_WORKERS",
    "proposal_processes": "NAGO_PROPOSAL_PROCESSES",
    "proposal_timeout_seconds": "NAGO_PROPOSAL_TIMEOUT_SECONDS",
    "reconcile_seconds": "NAGO_RECONCILE_SECONDS",
    "metrics_port": "NAGO_METRICS_PORT",
    "health_port": "NAGO_HEALTH_PORT",
    "job_ttl_seconds": "NAGO_JOB_TTL_SECONDS",
    "cleanup_timeout_seconds": "NAGO_CLEANUP_TIMEOUT_SECONDS",
    "lease_name": "NAGO_LEASE_NAME",
    "lease_namespace": "NAGO_LEASE_NAMESPACE",
    "lease_seconds": "NAGO_LEASE_SECONDS",
}


class OperatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    namespaces: list[str] = Field(default_factory=list, description="watched namespaces; empty: all")
    redis_url: str = Field(min_length=1, pattern=r"^rediss?://", description="the operator's Redis address")
    redis_password: str = Field(min_length=1, description="Redis password (also handed to trial pods)")
    trial_redis_url: str | None = Field(
        default=None, pattern=r"^rediss?://", description="Redis address as trial pods reach it (default redis_url)"
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    workers: int = Field(default=4, ge=1, le=256, description="threads running the reconciles of light strategies")
    proposal_processes: int = Field(
        default=2, ge=1, le=64, description="worker processes (and threads) stepping model-based strategies"
    )
    proposal_timeout_seconds: float = Field(
        default=600.0, gt=0, le=86_400, description="a proposal step longer than this is killed and retried"
    )
    reconcile_seconds: float = Field(
        default=30.0, gt=0, le=600, description="safety net: a search nothing woke is reconciled after this long"
    )
    metrics_port: int = Field(default=8000, ge=0, le=65535, description="Prometheus /metrics port (0: off)")
    health_port: int = Field(default=8080, ge=0, le=65535, description="liveness /healthz port (0: off)")
    job_ttl_seconds: int = Field(default=86_400, ge=0, description="finished trial Jobs are removed after this")
    cleanup_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="deleting a search gives up cleaning Redis after this long"
    )

    lease_name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
        description="run as one of several replicas: the Lease that picks the active one (unset: always active)",
    )
    lease_namespace: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
        description="the Lease's namespace (default: the pod's own)",
    )
    lease_seconds: float = Field(
        default=15.0, ge=3, le=300, description="a standby takes over after the active replica is silent this long"
    )

    @property
    def pod_redis_url(self) -> str:
        return self.trial_redis_url or self.redis_url


def read_settings(environment: Mapping[str, str] | None = None) -> OperatorSettings:
    """Settings from NAGO_* variables; InvalidInputError names the variable at fault."""
    source = os.environ if environment is None else environment
    values: dict[str, object] = {}
    for field, variable in ENVIRONMENT.items():
        raw = source.get(variable)
        if raw is None or raw == "":
            continue
        values[field] = [n.strip() for n in raw.split(",") if n.strip()] if field == "namespaces" else raw
    try:
        return OperatorSettings.model_validate(values)
    except ValidationError as error:
        problem = error.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "settings"
        raise InvalidInputError(ENVIRONMENT.get(field, field), str(problem["msg"])) from None
