"""The tests' Kubernetes client: the operator's own REST client (nago_operator.kube_client) logged in with a
client certificate from the test PKI, so the test tier needs no Kubernetes client dependency either."""

from __future__ import annotations

import ssl

from control_plane.pki import KeyPair
from nago_operator.kube_client import JSON, Credentials, KubeClient
from nago_operator.kube_client import KubeError as ApiError

__all__ = ["JSON", "ApiClient", "ApiError"]


class ApiClient(KubeClient):
    def __init__(self, server: str, ca_certificate: str, credentials: KeyPair, timeout: float = 30.0) -> None:
        context = ssl.create_default_context(cafile=ca_certificate)
        context.load_cert_chain(str(credentials.certificate), str(credentials.key))
        super().__init__(Credentials(server, context), timeout)
