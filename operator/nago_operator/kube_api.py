"""Path-level Kubernetes requests through the official client (`kubernetes`): its login and its connections.

The reconcile builds its objects as plain JSON (trial Jobs, the ledger ConfigMap, Events) and reads the answers
as JSON, so it calls the official client's `ApiClient` one level below its typed APIs — the same call those
make — and skips the model classes. What it gets from the official client is everything below that:

- **login**: inside a cluster the pod's service account, its projected token re-read as it rotates
  (`load_incluster_config(try_refresh_token=True)`); outside, every kubeconfig form the client supports —
  client certificates, tokens, token files and exec plugins (the form of EKS, GKE and AKS), re-run when the
  credential they printed expires;
- **connections**: one urllib3 pool per server, kept alive and shared by the worker threads, instead of a TLS
  handshake per request;
- **streaming**: watches are long GETs read line by line (`stream_lines`).

Every request has a timeout, so a stalled API server never hangs a worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0


class KubeError(Exception):
    """A non-2xx answer: `status` is the HTTP code (0 when the server could not be reached)."""

    def __init__(self, method: str, path: str, status: int, body: JSON) -> None:
        self.status = status
        self.reason = str(body.get("reason", ""))
        self.message = str(body.get("message", body))
        self.body = body
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.message}")


class LoginError(Exception):
    """No usable credentials: the message says what is missing."""


class KubeApi:
    """JSON requests by path; thread-safe (the official client's pool is)."""

    def __init__(self, api_client: k8s_client.ApiClient, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.api_client = api_client
        self.timeout = timeout

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    def send(self, method: str, path: str, body: JSON | None = None, **options: Any) -> JSON:
        """One request (options as for `send_raw`); the decoded answer, or `KubeError`."""
        payload = self.send_raw(method, path, body, **options)
        parsed = json.loads(payload) if payload else {}
        return parsed if isinstance(parsed, dict) else {"items": parsed}

    def send_raw(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        """One request; the answer's bytes, or `KubeError`."""
        answer = self._open(method, path, body, query, content_type, self.timeout)
        try:
            payload: bytes = answer.data
        finally:
            answer.release_conn()
        if answer.status >= 400:
            raise KubeError(method, path, answer.status, _decode_error(payload))
        return payload

    def stream_lines(self, path: str, query: dict[str, str], read_timeout: float) -> Iterator[bytes]:
        """A long GET (a watch) read line by line; ends when the server closes it or `read_timeout` passes
        without a byte (then `KubeError` with status 0)."""
        answer = self._open("GET", path, None, query, "application/json", (CONNECT_TIMEOUT_SECONDS, read_timeout))
        try:
            if answer.status >= 400:
                raise KubeError("GET", path, answer.status, _decode_error(answer.data))
            try:
                yield from (line for line in answer if line.strip())
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise KubeError("GET", path, 0, {"reason": "Disconnected", "message": str(error)}) from None
        finally:
            answer.release_conn()

    def _open(
        self,
        method: str,
        path: str,
        body: JSON | None,
        query: dict[str, str] | None,
        content_type: str,
        timeout: float | tuple[float, float],
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        verb, url, headers, payload, _ = self.api_client.param_serialize(
            method, path, query_params=list((query or {}).items()), header_params=headers, body=body,
            auth_settings=["BearerToken"],
        )  # fmt: skip
        try:
            answer = self.api_client.call_api(verb, url, headers, payload, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError, k8s_client.ApiException) as error:
            raise KubeError(method, path, 0, {"reason": "Unreachable", "message": str(error)}) from None
        response: urllib3.BaseHTTPResponse = answer.response
        return response

    def get(self, path: str, query: dict[str, str] | None = None) -> JSON:
        return self.send("GET", path, query=query)

    def create(self, path: str, body: JSON, dry_run: bool = False) -> JSON:
        """POST; with `dry_run` the server validates and admits the object but stores nothing."""
        return self.send("POST", path, body, query={"dryRun": "All"} if dry_run else None)

    def replace(self, path: str, body: JSON) -> JSON:
        return self.send("PUT", path, body)

    def patch(self, path: str, body: JSON) -> JSON:
        """A JSON merge patch (RFC 7386): null removes a key."""
        return self.send("PATCH", path, body, content_type=MERGE_PATCH)

    def delete(self, path: str, body: JSON | None = None) -> JSON:
        return self.send("DELETE", path, body)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]


def _decode_error(payload: bytes) -> JSON:
    try:
        decoded = json.loads(payload)
    except ValueError:
        return {"message": payload.decode(errors="replace")}
    return decoded if isinstance(decoded, dict) else {}


def load_configuration(kubeconfig: Path | None = None, pool_size: int = 16) -> k8s_client.Configuration:
    """The pod's service account inside a cluster (unless `kubeconfig` is given), else the kubeconfig's current
    context (`kubeconfig`, `$KUBECONFIG`, ~/.kube/config); `LoginError` says what is missing."""
    configuration = k8s_client.Configuration()
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration, try_refresh_token=True
            )
        else:
            path = kubeconfig or Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config")
            path = path.expanduser()
            if not path.is_file():
                raise LoginError(f"KUBECONFIG: cannot read {path}: no such file")
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(path), client_configuration=configuration
            )
    except k8s_config.ConfigException as error:
        raise LoginError(f"Kubernetes login: {error}") from None
    configuration.connection_pool_maxsize = pool_size
    return configuration


def connect(kubeconfig: Path | None = None, pool_size: int = 16, timeout: float = REQUEST_TIMEOUT_SECONDS) -> KubeApi:
    """A `KubeApi` logged in as `load_configuration` finds."""
    return KubeApi(k8s_client.ApiClient(load_configuration(kubeconfig, pool_size)), timeout)
