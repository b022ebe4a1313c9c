"""Namespaces, CRDs and custom objects against the real API server; kubectl and helm against its kubeconfig."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from control_plane import ApiClient, ApiError, ControlPlane
from control_plane.waiting import find_condition, wait_for

pytestmark = pytest.mark.cluster

GROUP = "widgets.nago.dev"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {"size": {"type": "integer", "minimum": 1}, "colour": {"type": "string"}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def widget_crd(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Widget CRD, applied with kubectl and Established; yields the custom objects' API prefix."""
    manifest = tmp_path_factory.mktemp("crd") / "widget-crd.yaml"
    manifest.write_text(yaml.safe_dump(CRD))
    control_plane.kubectl("apply", "-f", str(manifest))
    kube = control_plane.admin_client()
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}"
    wait_for("the Widget CRD to be Established", lambda: find_condition(kube.get(path), "Established"))
    wait_for("Widgets to be served", lambda: kube.get(f"/apis/{GROUP}/v1/widgets"))
    yield f"/apis/{GROUP}/v1"
    control_plane.kubectl("delete", "-f", str(manifest), "--wait=false")


def test_namespace_is_created_and_active(kube: ApiClient, namespace: str) -> None:
    found = kube.get(f"/api/v1/namespaces/{namespace}")
    assert found["status"]["phase"] == "Active"


def test_custom_object_round_trips(kube: ApiClient, namespace: str, widget_crd: str) -> None:
    widget = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3, "colour": "teal"},
    }
    kube.create(f"{widget_crd}/namespaces/{namespace}/widgets", widget)
    read = kube.get(f"{widget_crd}/namespaces/{namespace}/widgets/w1")
    assert read["spec"] == {"size": 3, "colour": "teal"}
    assert read["metadata"]["uid"]


def test_schema_violation_is_rejected_with_the_api_servers_message(
    kube: ApiClient, namespace: str, widget_crd: str
) -> None:
    widget = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"size": "large"}}
    with pytest.raises(ApiError) as rejected:
        kube.create(f"{widget_crd}/namespaces/{namespace}/widgets", widget)
    assert rejected.value.status == 422
    assert rejected.value.reason == "Invalid"
    assert "spec.size" in rejected.value.message
    assert "must be of type integer" in rejected.value.message


def test_kubectl_get_and_version_against_the_kubeconfig(control_plane: ControlPlane, namespace: str) -> None:
    names = control_plane.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert f"namespace/{namespace}" in names
    versions = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"] == control_plane.binaries.kubernetes_version
    assert versions["clientVersion"]["gitVersion"] == control_plane.binaries.kubernetes_version
    nodes = control_plane.kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.capacity.nvidia\\.com/gpu}").stdout
    assert nodes.strip() == "8"


def _write_chart(directory: Path) -> Path:
    chart = directory / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: tiny\nversion: 0.1.0\nkubeVersion: '>=1.30.0-0'\n"  # needs a version-stamped server
    )
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-settings
            data:
              greeting: {{ .Values.greeting | quote }}
              kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
            """
        )
    )
    return chart


def test_helm_installs_a_tiny_chart(
    control_plane: ControlPlane, kube: ApiClient, namespace: str, tmp_path: Path
) -> None:
    chart = _write_chart(tmp_path)
    release = f"r{uuid.uuid4().hex[:6]}"
    control_plane.helm("install", release, str(chart), "--namespace", namespace, "--set", "greeting=hi", "--wait")
    settings = kube.get(f"/api/v1/namespaces/{namespace}/configmaps/{release}-settings")
    assert settings["data"] == {"greeting": "hi", "kubeVersion": control_plane.binaries.kubernetes_version}
    listed = json.loads(control_plane.helm("list", "--namespace", namespace, "-o", "json").stdout)
    assert [(entry["name"], entry["status"]) for entry in listed] == [(release, "deployed")]
