"""Kubeconfig files with the certificates embedded, so they stay valid wherever they are copied."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from control_plane.pki import KeyPair


def _encode(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def write_kubeconfig(
    path: Path, server: str, ca_certificate: Path, user: str, credentials: KeyPair | str | list[str]
) -> Path:
    """Write a one-context kubeconfig for `user` against `server`: a client-certificate login, a bearer token
    when `credentials` is a string (a ServiceAccount's token from the TokenRequest API), or an exec plugin when
    it is a command (the form cloud providers' kubeconfigs use: the command prints an ExecCredential)."""
    login: dict[str, object]
    if isinstance(credentials, str):
        login = {"token": credentials}
    elif isinstance(credentials, list):
        login = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": credentials[0],
                          "args": credentials[1:], "interactiveMode": "Never"}}  # fmt: skip
    else:
        login = {"client-certificate-data": _encode(credentials.certificate),
                 "client-key-data": _encode(credentials.key)}  # fmt: skip
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "nago-test", "cluster": {"server": server, "certificate-authority-data": _encode(ca_certificate)}}
        ],
        "users": [{"name": user, "user": login}],
        "contexts": [{"name": "nago-test", "context": {"cluster": "nago-test", "user": user, "namespace": "default"}}],
        "current-context": "nago-test",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
