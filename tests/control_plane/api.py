"""A small Kubernetes REST client over urllib (client-certificate login), enough for tests and the process
kubelet; it keeps the test tier free of a Kubernetes client dependency."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from control_plane.pki import KeyPair

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    """A non-2xx answer: `status` is the HTTP code, `message` the API server's own message."""

    def __init__(self, method: str, path: str, status: int, body: JSON) -> None:
        self.status = status
        self.reason = str(body.get("reason", ""))
        self.message = str(body.get("message", body))
        self.body = body
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.message}")


class ApiClient:
    def __init__(self, server: str, ca_certificate: str, credentials: KeyPair, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_certificate)
        self._context.load_cert_chain(str(credentials.certificate), str(credentials.key))

    def send(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        """Send one request; return the raw answer or raise `ApiError`."""
        url = self.server + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=self.timeout) as response:
                payload: bytes = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = {"message": raw.decode(errors="replace")}
            raise ApiError(method, path, error.code, decoded if isinstance(decoded, dict) else {}) from None
        return payload

    def get(self, path: str, query: dict[str, str] | None = None) -> JSON:
        return _decode(self.send("GET", path, query=query))

    def create(self, path: str, body: JSON) -> JSON:
        return _decode(self.send("POST", path, body))

    def patch(self, path: str, body: JSON) -> JSON:
        """A JSON merge patch (RFC 7386)."""
        return _decode(self.send("PATCH", path, body, content_type=MERGE_PATCH))

    def delete(self, path: str, body: JSON | None = None) -> JSON:
        return _decode(self.send("DELETE", path, body))

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True


def _decode(payload: bytes) -> JSON:
    parsed = json.loads(payload) if payload else {}
    return parsed if isinstance(parsed, dict) else {"items": parsed}
