"""The process kubelet's container environment and command line (tests/support/control_plane/environment.py)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from control_plane.api import JSON, ApiClient, ApiError
from control_plane.environment import (
    ConfigError,
    build_command_line,
    expand_references,
    parse_quantity,
    resolve_environment,
)


class _StoredObjects(ApiClient):
    """An ApiClient that answers GETs from a dict of paths (no server)."""

    def __init__(self, objects: dict[str, JSON]) -> None:
        self.objects = objects

    def get(self, path: str, query: dict[str, str] | None = None) -> JSON:
        if path not in self.objects:
            raise ApiError("GET", path, 404, {"reason": "NotFound", "message": "not found"})
        return self.objects[path]


POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}, "annotations": {"a": "b"}},
    "spec": {"nodeName": "n", "serviceAccountName": "default"},
}


def test_expand_references_follows_kubernetes_rules() -> None:
    values = {"A": "1", "B": "two"}
    assert expand_references("$(A)-$(B)", values) == "1-two"
    assert expand_references("$(MISSING) stays", values) == "$(MISSING) stays"
    assert expand_references("$$(A) escapes", values) == "$(A) escapes"


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("1Gi", Decimal(2**30)), ("3M", Decimal(3 * 10**6))],
)
def test_parse_quantity(quantity: str, expected: Decimal) -> None:
    assert parse_quantity(quantity) == expected


def test_resolve_environment_reads_downward_api_config_maps_and_secrets() -> None:
    client = _StoredObjects(
        {
            "/api/v1/namespaces/ns/configmaps/cm": {"data": {"k": "from-cm", "other": "o"}},
            "/api/v1/namespaces/ns/secrets/s": {"data": {"token": base64.b64encode(b"t0k").decode()}},
        }
    )
    container: JSON = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
            {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "x", "optional": True}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
            {"name": "BOTH", "value": "$(NAME)/$(K)"},
        ],
        "resources": {"limits": {"cpu": "250m"}},
    }
    environment = resolve_environment(client, POD, container, {"PATH": "/bin"}, "127.0.0.1", {"cpu": "4"})
    assert environment == {
        "PATH": "/bin",
        "CM_k": "from-cm",
        "CM_other": "o",
        "NAME": "p",
        "APP": "x",
        "K": "from-cm",
        "TOKEN": "t0k",
        "CPU": "250",
        "BOTH": "p/from-cm",
    }


def test_a_missing_required_reference_is_a_config_error() -> None:
    container: JSON = {
        "name": "c",
        "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "no", "key": "k"}}}],
    }
    with pytest.raises(ConfigError, match="not found"):
        resolve_environment(_StoredObjects({}), POD, container, {}, "127.0.0.1", {})


def test_build_command_line_needs_a_command_or_a_known_entrypoint() -> None:
    container: JSON = {"name": "c", "image": "trainer:1", "args": ["--seed", "$(SEED)"]}
    assert build_command_line(container, {"SEED": "3"}, {"trainer:1": ["nago", "train"]}) == [
        "nago",
        "train",
        "--seed",
        "3",
    ]
    with pytest.raises(ValueError, match="no known entrypoint"):
        build_command_line(container, {}, {})
