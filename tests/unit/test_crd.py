"""The GeneratorSearch CRD: the chart's copy matches the models, the schema is structural and documented, the
printer columns point into it, and its defaults are the models' defaults."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from nago.search.spec import GeneratorSearchSpec
from nago.search.status import SearchStatus
from nago.trial.dataset import DatasetSpec
from nago.trial.protocol import ProtocolMode, TrainingProtocol
from nago_operator.crd import build_crd, diff_crd, main, render_crd

ROOT = Path(__file__).resolve().parents[2]
CHART_CRD = ROOT / "charts" / "nago-operator" / "crds" / "generatorsearches.nago.dev.yaml"
# Keywords a structural schema may carry; anything else in the generated schema is a mistake.
STRUCTURAL_KEYWORDS = {
    "description", "type", "nullable", "enum", "default", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "maxProperties", "properties",
    "required", "items", "additionalProperties", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations",
}  # fmt: skip


MODE_KNOBS = {(TrainingProtocol, name) for name in ("cutout", "drop_path", "auxiliary_weight", "grad_clip")}


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path: properties by name, map values as [*], list items as []."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}[*]")
    if "items" in node:
        yield from _nodes(node["items"], f"{path}[]")


def test_the_chart_copy_is_generated_from_the_models() -> None:
    assert CHART_CRD.read_text() == render_crd(), f"{CHART_CRD.relative_to(ROOT)} is stale: run `make crd`"


def test_the_crd_names_and_version() -> None:
    crd = build_crd()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "generatorsearches.nago.dev" and spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "GeneratorSearch", "listKind": "GeneratorSearchList", "plural": "generatorsearches",
        "singular": "generatorsearch", "shortNames": ["gs"], "categories": ["nago"],
    }  # fmt: skip
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_the_schema_is_structural() -> None:
    for path, node in _nodes(_schema()):
        assert set(node) <= STRUCTURAL_KEYWORDS, f"{path or 'root'}: {set(node) - STRUCTURAL_KEYWORDS}"
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path}: no type"
        assert not ("properties" in node and "additionalProperties" in node), f"{path}: properties and a map"
        if node.get("exclusiveMinimum") or node.get("exclusiveMaximum"):
            assert node["exclusiveMinimum" if node.get("exclusiveMinimum") else "exclusiveMaximum"] is True


def test_every_field_is_described_for_kubectl_explain() -> None:
    undocumented = [
        path
        for path, node in _nodes(_schema())
        if path and not path.endswith(("]", ".metadata")) and not node.get("description")
    ]
    assert not undocumented  # metadata may carry nothing but its type: the API server documents it


def test_the_status_is_the_full_model_not_preserved_unknown_fields() -> None:
    status = _schema()["properties"]["status"]
    assert not any(node.get("x-kubernetes-preserve-unknown-fields") for _, node in _nodes(status))
    assert set(status["properties"]) == {field.alias for field in SearchStatus.model_fields.values()}


def test_optional_fields_are_nullable_and_tuples_are_bounded_arrays() -> None:
    spec = _schema()["properties"]["spec"]["properties"]
    assert spec["dataset"]["properties"]["path"] == {
        "description": DatasetSpec.model_fields["path"].description,
        "type": "string",
        "nullable": True,
    }
    ranges = spec["space"]["properties"]["ranges"]["additionalProperties"]
    assert {key: ranges[key] for key in ("type", "minItems", "maxItems", "items")} == {
        "type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"},
    }  # fmt: skip
    seed = spec["strategy"]["properties"]["seed"]
    assert (seed["maximum"], seed["exclusiveMaximum"], seed["minimum"]) == (2**31, True, 0)


@pytest.mark.parametrize("column", build_crd()["spec"]["versions"][0]["additionalPrinterColumns"])
def test_printer_columns_point_into_the_schema(column: dict[str, str]) -> None:
    path = column["jsonPath"]
    if path.startswith(".metadata."):
        assert (path, column["type"]) == (".metadata.creationTimestamp", "date")
        return
    node = _schema()
    for name in path.lstrip(".").split("."):
        node = node["properties"][name]
    assert node["type"] == column["type"]


def test_printer_columns_are_the_ones_people_read() -> None:
    columns = build_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == [
        "Phase", "Strategy", "Done", "Running", "Failed", "Best", "Memory", "Test", "Age"]  # fmt: skip


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside `Model` or `Model | None`, if any."""
    if get_origin(annotation) in (Union, types.UnionType):
        found = [_model_of(arg) for arg in get_args(annotation) if arg is not type(None)]
        return found[0] if len(found) == 1 else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _check_defaults(model: type[BaseModel], node: dict[str, Any], path: str) -> list[str]:
    """Each property's schema default parses to the field's default; recurses into nested models."""
    wrong = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        child = node["properties"][alias]
        default = field.get_default(call_default_factory=True)
        if "default" in child:
            parsed = TypeAdapter[Any](field.annotation or Any).validate_python(child["default"])
            if parsed != default:
                wrong.append(f"{path}.{alias}: {child['default']!r} parses to {parsed!r}, the model says {default!r}")
        elif not field.is_required() and default is not None and (model, name) not in MODE_KNOBS:
            wrong.append(f"{path}.{alias}: no default in the schema, the model's is {default!r}")
        nested = _model_of(field.annotation)
        if nested is not None:
            wrong += _check_defaults(nested, child, f"{path}.{alias}")
    return wrong


@pytest.mark.parametrize(("model", "name"), [(GeneratorSearchSpec, "spec"), (SearchStatus, "status")])
def test_schema_defaults_are_the_models_defaults(model: type[BaseModel], name: str) -> None:
    assert _check_defaults(model, _schema()["properties"][name], name) == []


def test_the_spec_of_all_defaults_parses_to_the_default_spec() -> None:
    assert GeneratorSearchSpec.model_validate(_schema()["properties"]["spec"]["default"]) == GeneratorSearchSpec()


def test_protocol_knobs_set_by_the_mode_get_no_default() -> None:
    """The API server would otherwise fill cutout 0 into `protocol: {mode: final}` and switch the preset off."""
    protocol = _schema()["properties"]["spec"]["properties"]["final"]["properties"]["protocol"]
    knobs = {"cutout", "dropPath", "auxiliaryWeight", "gradClip"}
    assert not any("default" in protocol["properties"][knob] for knob in knobs)
    assert "unset: 0 for mode search, the budget rule for mode final" in protocol["properties"]["cutout"]["description"]
    assert TrainingProtocol.model_validate(protocol["default"]) == TrainingProtocol(mode=ProtocolMode.FINAL)


def test_cel_rules_name_their_field_and_lists_under_rules_are_bounded() -> None:
    rules = [
        (path, node, rule) for path, node in _nodes(_schema()) for rule in node.get("x-kubernetes-validations", [])
    ]
    assert len(rules) >= 8
    for path, node, rule in rules:
        assert rule["message"].split(":")[0].startswith(("spec.", "metadata.")), rule
        assert node.get("maxItems") or node.get("type") != "array", f"{path}: a list under a rule needs maxItems"
        assert node.get("maxProperties") or "additionalProperties" not in node, f"{path}: a map needs maxProperties"


def test_the_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "crds" / "crd.yaml"
    assert main([str(target)]) == 0
    assert target.read_text().startswith("# generated by python -m nago_operator.crd; do not edit\n")
    assert yaml.safe_load(target.read_text()) == build_crd()
    assert main(["--check", str(target)]) == 0 and diff_crd(target) == ""
    target.write_text(target.read_text().replace("- gs\n", "- gx\n"))
    assert main(["--check", str(target)]) == 1
    assert "run `make crd`" in capsys.readouterr().err
