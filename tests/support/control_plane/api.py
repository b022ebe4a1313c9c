"""The tests' Kubernetes client: the operator's own path-level client over the official `kubernetes` client
(nago_operator.kube_api), logged in with a client certificate from the test PKI."""

from __future__ import annotations

from kubernetes import client as k8s_client

from control_plane.pki import KeyPair
from nago_operator.kube_api import JSON, KubeApi
from nago_operator.kube_api import KubeError as ApiError

__all__ = ["JSON", "ApiClient", "ApiError"]


class ApiClient(KubeApi):
    def __init__(self, server: str, ca_certificate: str, credentials: KeyPair, timeout: float = 30.0) -> None:
        configuration = k8s_client.Configuration(host=server)
        configuration.ssl_ca_cert = ca_certificate
        configuration.cert_file = str(credentials.certificate)
        configuration.key_file = str(credentials.key)
        super().__init__(k8s_client.ApiClient(configuration), timeout)
