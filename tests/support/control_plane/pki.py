"""A throw-away PKI for one control plane, made with the openssl command line (ECDSA P-256, valid 7 days).

One CA signs the API server's serving certificate and every client certificate; the API server trusts it for
client-certificate authentication, where the subject's CN is the user and O the group.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "nago-node"  # the real node (node.py)
NODE_GATEWAY = "10.244.0.1"  # its pod bridge's address on the host, where the API server is advertised
_CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "7"]


@dataclass(frozen=True)
class KeyPair:
    certificate: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: KeyPair
    apiserver: KeyPair
    admin: KeyPair
    controller_manager: KeyPair
    kubelet: KeyPair
    node: KeyPair
    kube_proxy: KeyPair
    scheduler: KeyPair
    service_account_key: Path
    service_account_public_key: Path


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def _issue(directory: Path, name: str, subject: str, ca: KeyPair, extensions: list[str]) -> KeyPair:
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    added = [argument for extension in extensions for argument in ("-addext", extension)]
    _openssl(
        "req", "-x509", *_CURVE, "-subj", subject, "-keyout", str(pair.key), "-out", str(pair.certificate),
        "-CA", str(ca.certificate), "-CAkey", str(ca.key), "-addext", "basicConstraints=critical,CA:FALSE", *added,
    )  # fmt: skip
    return pair


def generate_pki(directory: Path) -> Pki:
    """Write the CA, the serving and client certificates and the service-account signing key into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = KeyPair(directory / "ca.crt", directory / "ca.key")
    _openssl(
        "req", "-x509", *_CURVE, "-subj", "/CN=nago-test-ca", "-keyout", str(ca.key), "-out", str(ca.certificate),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    names = (
        "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
        f"IP:127.0.0.1,IP:10.0.0.1,IP:{NODE_GATEWAY}"
    )
    server = ["extendedKeyUsage=serverAuth", f"subjectAltName={names}"]
    client = ["extendedKeyUsage=clientAuth"]
    service_account_key = directory / "service-account.key"
    service_account_public_key = directory / "service-account.pub"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(service_account_key))
    _openssl("pkey", "-in", str(service_account_key), "-pubout", "-out", str(service_account_public_key))
    return Pki(
        ca=ca,
        apiserver=_issue(directory, "apiserver", "/CN=kube-apiserver", ca, server),
        admin=_issue(directory, "admin", "/O=system:masters/CN=nago-admin", ca, client),
        controller_manager=_issue(directory, "controller-manager", "/CN=system:kube-controller-manager", ca, client),
        # The process kubelet also binds pods (a scheduler's job), so it acts as an administrator.
        kubelet=_issue(directory, "process-kubelet", "/O=system:masters/CN=nago-process-kubelet", ca, client),
        # The real node's kubelet (the Node authorizer's naming), kube-proxy and kube-scheduler: RBAC's defaults.
        node=_issue(directory, "node", f"/O=system:nodes/CN=system:node:{NODE_NAME}", ca, client),
        kube_proxy=_issue(directory, "kube-proxy", "/CN=system:kube-proxy", ca, client),
        scheduler=_issue(directory, "scheduler", "/CN=system:kube-scheduler", ca, client),
        service_account_key=service_account_key,
        service_account_public_key=service_account_public_key,
    )
