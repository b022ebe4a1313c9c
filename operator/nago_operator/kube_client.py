"""A small, thread-safe Kubernetes REST client over urllib: what the reconcile threads need and no more.

kopf logs itself in for its watches; the reconcile work runs in worker threads and uses this client with
the same identity: the pod's service account inside the cluster, otherwise the current context of the
kubeconfig (`$KUBECONFIG`, else ~/.kube/config) with a client certificate or a bearer token. Every request
has a timeout, so a stalled API server never hangs a worker.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
REQUEST_TIMEOUT_SECONDS = 30.0


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


@dataclass(frozen=True)
class Credentials:
    server: str
    context: ssl.SSLContext
    token: str | None = None


class KubeClient:
    def __init__(self, credentials: Credentials, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.server = credentials.server.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout

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
        url = self.server + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.credentials.token:
            request.add_header("Authorization", f"Bearer {self.credentials.token}")
        try:
            with urllib.request.urlopen(request, context=self.credentials.context, timeout=self.timeout) as answer:
                payload: bytes = answer.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = {"message": raw.decode(errors="replace")}
            raise KubeError(method, path, error.code, decoded if isinstance(decoded, dict) else {}) from None
        except (urllib.error.URLError, OSError) as error:
            raise KubeError(method, path, 0, {"reason": "Unreachable", "message": str(error)}) from None
        return payload

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


def load_credentials() -> Credentials:
    """The pod's service account inside a cluster, else the kubeconfig's current context."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT / "token").exists():
        return read_service_account(SERVICE_ACCOUNT)
    path = Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")
    return read_kubeconfig(path)


def read_service_account(folder: Path) -> Credentials:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    context = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    return Credentials(f"https://{host}:{port}", context, (folder / "token").read_text().strip())


def read_kubeconfig(path: Path) -> Credentials:
    """Server, CA and client certificate or token of the current context (file paths or inline data)."""
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as error:
        raise LoginError(f"KUBECONFIG: cannot read {path}: {error.strerror}") from None
    try:
        context_name = config["current-context"]
        context = _named(config["contexts"], context_name)["context"]
        cluster = _named(config["clusters"], context["cluster"])["cluster"]
        user = _named(config["users"], context["user"])["user"]
    except (KeyError, TypeError) as error:
        raise LoginError(f"KUBECONFIG: {path} has no complete current context ({error})") from None
    folder = path.parent
    ca = _materialise(cluster, "certificate-authority", folder)
    tls = ssl.create_default_context(cafile=ca)
    if cluster.get("insecure-skip-tls-verify"):
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    certificate = _materialise(user, "client-certificate", folder)
    key = _materialise(user, "client-key", folder)
    if certificate and key:
        tls.load_cert_chain(certificate, key)
    token = user.get("token")
    if token is None and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    if not (certificate and key) and not token:
        raise LoginError(f"KUBECONFIG: user {context['user']!r} has neither a client certificate nor a token")
    return Credentials(str(cluster["server"]), tls, token)


def _named(entries: list[JSON], name: str) -> JSON:
    for entry in entries:
        if entry.get("name") == name:
            return entry
    raise KeyError(name)


_SECRETS_FOLDER: list[str] = []


def _materialise(section: JSON, field: str, folder: Path) -> str | None:
    """A file path for `field` or `field-data` (inline base64 goes to a private temporary file)."""
    if section.get(field):
        return str(folder / section[field])
    inline = section.get(f"{field}-data")
    if not inline:
        return None
    if not _SECRETS_FOLDER:
        _SECRETS_FOLDER.append(tempfile.mkdtemp(prefix="nago-operator-"))
        atexit.register(shutil.rmtree, _SECRETS_FOLDER[0], True)
    target = Path(_SECRETS_FOLDER[0]) / field
    target.write_bytes(base64.b64decode(inline))
    target.chmod(0o600)
    return str(target)
