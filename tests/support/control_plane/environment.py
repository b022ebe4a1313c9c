"""A container's environment and command line the way the kubelet builds them: `envFrom` first, then `env`
(values, downward API fields and resources, ConfigMap and Secret keys), with `$(VAR)` expansion in values,
command and args (`$$` escapes a dollar)."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from control_plane.api import JSON, ApiClient, ApiError

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_FIELD_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_SUFFIXES = {
    "m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
}  # fmt: skip


class ConfigError(Exception):
    """The container cannot be configured yet (a missing ConfigMap or Secret); the kubelet retries."""


def expand_references(text: str, values: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known names are replaced, unknown ones stay as written, `$$` is `$`."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return values.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def parse_quantity(quantity: str) -> Decimal:
    """A resource quantity such as `500m`, `2`, `1Gi` or `1e3` as a number."""
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if quantity.endswith(suffix):
            return Decimal(quantity[: -len(suffix)]) * _SUFFIXES[suffix]
    return Decimal(quantity)


def _field_value(pod: JSON, path: str, host_ip: str) -> str:
    metadata: dict[str, Any] = pod.get("metadata", {})
    subscript = _FIELD_SUBSCRIPT.match(path)
    if subscript:
        return str(metadata.get(subscript.group(1), {}).get(subscript.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        entries = metadata.get(path.split(".")[1], {})
        return "\n".join(f'{key}="{value}"' for key, value in sorted(entries.items()))
    simple = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", ""),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": host_ip,
        "status.podIPs": host_ip,
    }
    if path not in simple:
        raise ConfigError(f"fieldRef {path!r} is not supported by the process kubelet")
    return str(simple[path])


def _resource_value(container: JSON, reference: JSON, node_allocatable: Mapping[str, str]) -> str:
    resource = str(reference["resource"])
    kind, _, name = resource.partition(".")
    declared = container.get("resources", {}).get(kind, {}).get(name)
    if declared is None and kind == "requests":
        declared = container.get("resources", {}).get("limits", {}).get(name)
    quantity = parse_quantity(str(declared if declared is not None else node_allocatable.get(name, "0")))
    divisor = parse_quantity(str(reference.get("divisor", "1")))
    return str(math.ceil(quantity / divisor))


def _read_object_data(client: ApiClient, namespace: str, kind: str, name: str, optional: bool) -> dict[str, str]:
    """The string data of a ConfigMap or Secret (Secret values decoded); {} for a missing optional one."""
    try:
        found = client.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")
    except ApiError as error:
        if error.status == 404 and optional:
            return {}
        if error.status == 404:
            raise ConfigError(f"{kind[:-1]} {name!r} not found") from None
        raise
    if kind == "secrets":
        return {key: base64.b64decode(value).decode() for key, value in (found.get("data") or {}).items()}
    data: dict[str, str] = dict(found.get("data") or {})
    for key, value in (found.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value).decode(errors="replace")
    return data


def _key_value(client: ApiClient, namespace: str, kind: str, reference: JSON) -> str | None:
    optional = bool(reference.get("optional", False))
    data = _read_object_data(client, namespace, kind, str(reference["name"]), optional)
    key = str(reference["key"])
    if key in data:
        return data[key]
    if optional:
        return None
    raise ConfigError(f"key {key!r} not found in {kind[:-1]} {reference['name']!r}")


def resolve_environment(
    client: ApiClient,
    pod: JSON,
    container: JSON,
    base: Mapping[str, str],
    host_ip: str,
    node_allocatable: Mapping[str, str],
) -> dict[str, str]:
    """The container's full environment: `base`, then `envFrom`, then `env` (later entries win)."""
    namespace = str(pod["metadata"]["namespace"])
    values = dict(base)
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix", ""))
        for field_name, kind in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            if field_name in source:
                reference = source[field_name]
                data = _read_object_data(
                    client, namespace, kind, str(reference["name"]), bool(reference.get("optional"))
                )
                values.update({prefix + key: value for key, value in data.items()})
    for variable in container.get("env") or []:
        name = str(variable["name"])
        if "valueFrom" not in variable:
            values[name] = expand_references(str(variable.get("value", "")), values)
            continue
        source = variable["valueFrom"]
        resolved: str | None
        if "fieldRef" in source:
            resolved = _field_value(pod, str(source["fieldRef"]["fieldPath"]), host_ip)
        elif "resourceFieldRef" in source:
            resolved = _resource_value(container, source["resourceFieldRef"], node_allocatable)
        elif "configMapKeyRef" in source:
            resolved = _key_value(client, namespace, "configmaps", source["configMapKeyRef"])
        elif "secretKeyRef" in source:
            resolved = _key_value(client, namespace, "secrets", source["secretKeyRef"])
        else:
            raise ConfigError(f"env {name!r}: unsupported valueFrom {sorted(source)}")
        if resolved is not None:
            values[name] = resolved
    return values


def build_command_line(
    container: JSON, environment: Mapping[str, str], entrypoints: Mapping[str, list[str]]
) -> list[str]:
    """`command` + `args` with references expanded. Without `command`, the image's entrypoint must be known
    from `entrypoints` (image name -> argv), since the process kubelet never reads images."""
    command = [str(part) for part in container.get("command") or []]
    if not command:
        image = str(container.get("image", ""))
        if image not in entrypoints:
            raise ValueError(
                f"container {container['name']!r} has no command and image {image!r} has no known entrypoint"
            )
        command = list(entrypoints[image])
    arguments = [str(part) for part in container.get("args") or []]
    return [expand_references(part, environment) for part in command + arguments]
