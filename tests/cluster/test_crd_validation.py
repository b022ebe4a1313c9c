"""The generated GeneratorSearch CRD in a real API server: the examples are accepted, the server fills in the
models' defaults, invalid specs are refused with a message naming the field (the same specs pydantic refuses),
`kubectl explain` documents the fields and `kubectl get gs` shows the printer columns."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from control_plane import ApiClient, ApiError, ControlPlane
from control_plane.waiting import wait_for
from crd_install import install_crd
from nago.errors import InvalidInputError
from nago.search.spec import BudgetSettings, GeneratorSearchSpec, parse_search
from nago.search.status import BestTrial, SearchStatus, TrialCounts
from nago_operator.crd import build_crd

pytestmark = pytest.mark.cluster

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> str:
    """The GeneratorSearch CRD installed; yields the API prefix of its version."""
    return install_crd(control_plane.admin_client(), build_crd())


def _manifest(spec: dict[str, Any] | None = None, name: str = "search") -> Manifest:
    manifest: Manifest = {"apiVersion": "nago.dev/v1alpha1", "kind": "GeneratorSearch", "metadata": {"name": name}}
    if spec is not None:
        manifest["spec"] = spec
    return manifest


def _dry_run(kube: ApiClient, api: str, namespace: str, manifest: Manifest) -> Manifest:
    """Create with server-side dry run and strict field validation; the object as the server would store it."""
    path = f"{api}/namespaces/{namespace}/generatorsearches"
    answer: Manifest = json.loads(kube.send_raw("POST", path, manifest, {"dryRun": "All", "fieldValidation": "Strict"}))
    return answer


def _spec_of(manifest: Manifest) -> GeneratorSearchSpec:
    return parse_search(manifest).spec


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_is_accepted_and_means_the_same_after_defaulting(
    kube: ApiClient, api: str, namespace: str, example: Path
) -> None:
    manifest = yaml.safe_load(example.read_text())
    stored = _dry_run(kube, api, namespace, manifest)
    assert _spec_of(stored) == _spec_of(manifest)


@pytest.mark.parametrize("spec", [None, {}], ids=["no-spec", "empty-spec"])
def test_the_server_fills_in_the_models_defaults(
    kube: ApiClient, api: str, namespace: str, spec: dict[str, Any] | None
) -> None:
    stored = _dry_run(kube, api, namespace, _manifest(spec))
    assert GeneratorSearchSpec.model_validate(stored["spec"]) == GeneratorSearchSpec()
    assert stored["spec"] == GeneratorSearchSpec().model_dump(mode="json", by_alias=True, exclude_none=True)


@pytest.mark.parametrize(
    "spec",
    [
        {"final": {"protocol": {"mode": "final", "batchSize": 32}}},  # the final preset must survive defaulting
        {"training": {"protocol": {"cutout": 8}}, "strategy": {"kind": "bohb"}},
        {
            "strategy": {"kind": "mobo"},
            "objectives": ["accuracy", "memory"],
            "dataset": {"kind": "cifar10", "path": "/d"},
        },
        {"space": {"name": "hnag-augv2", "ranges": {"top_nodes": [4, 8], "channel1_ratio": [0.5, 2.5]}}},
    ],
    ids=["final-preset", "bohb", "mobo", "ranges"],
)
def test_defaulting_never_changes_what_a_partial_spec_means(
    kube: ApiClient, api: str, namespace: str, spec: dict[str, Any]
) -> None:
    stored = _dry_run(kube, api, namespace, _manifest(spec))
    assert _spec_of(stored) == _spec_of(_manifest(spec))


def _set(path: str, value: Any) -> Callable[[Manifest], None]:
    """A change to a manifest: the value at a dotted path (parents created)."""

    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node = manifest
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value

    return change


# (case, change to a valid manifest, the field the server's message must name, a phrase of it)
INVALID: list[tuple[str, Callable[[Manifest], None], str, str]] = [
    ("wrong-type", _set("spec.budget.maxTrials", "many"), "spec.budget.maxTrials", "must be of type integer"),
    ("bool-as-string", _set("spec.suspend", "maybe"), "spec.suspend", "must be of type boolean"),
    ("batch-too-large", _set("spec.strategy.batchSize", 2000), "spec.strategy.batchSize", "less than or equal to 1024"),
    ("unknown-strategy", _set("spec.strategy.kind", "grid"), "spec.strategy.kind", "Unsupported value"),
    ("unknown-space", _set("spec.space.name", "darts"), "spec.space.name", "Unsupported value"),
    ("unknown-dataset", _set("spec.dataset.kind", "mnist"), "spec.dataset.kind", "Unsupported value"),
    ("parallelism-0", _set("spec.budget.parallelism", 0), "spec.budget.parallelism", "greater than or equal to 1"),
    ("max-trials-0", _set("spec.budget.maxTrials", 0), "spec.budget.maxTrials", "greater than or equal to 1"),
    ("negative-seed", _set("spec.strategy.seed", -1), "spec.strategy.seed", "greater than or equal to 0"),
    ("timeout-0", _set("spec.budget.metricsTimeoutSeconds", 0), "spec.budget.metricsTimeoutSeconds", "greater than 0"),
    ("protocol-batch-0", _set("spec.training.protocol.batchSize", 0), "spec.training.protocol.batchSize", "equal to 1"),
    ("fraction-1.5", _set("spec.dataset.validationFraction", 1.5), "spec.dataset.validationFraction", "less than 1"),
    ("empty-image", _set("spec.trial.image", ""), "spec.trial.image", "at least 1 chars long"),
    ("pull-policy", _set("spec.trial.imagePullPolicy", "Sometimes"), "spec.trial.imagePullPolicy", "Unsupported"),
    ("memory-without-mobo", _set("spec.objectives", ["memory"]), "spec.objectives", "must hold accuracy"),
    ("accuracy-twice", _set("spec.objectives", ["accuracy", "accuracy"]), "spec.objectives", "at most once"),
    ("mobo-without-memory", _set("spec.strategy.kind", "mobo"), "spec.objectives", "exactly when spec.strategy.kind"),
    ("bohb-decreasing", _set("spec.strategy.bohb.budgets", [60, 30]), "spec.strategy.bohb.budgets", "increasing"),
    ("bohb-repeated", _set("spec.strategy.bohb.budgets", [30, 30, 60]), "spec.strategy.bohb.budgets", "increasing"),
    ("bohb-zero", _set("spec.strategy.bohb.budgets", [0, 30]), "spec.strategy.bohb.budgets", "positive"),
    ("image-folder-no-path", _set("spec.dataset", {"kind": "image-folder"}), "spec.dataset.path", "required"),
    ("range-unknown", _set("spec.space.ranges", {"stage1_k": [2, 4]}), "spec.space.ranges", "allowed: top_nodes"),
    ("range-reversed", _set("spec.space.ranges", {"top_p": [0.8, 0.2]}), "spec.space.ranges[top_p]", "not exceed"),
    ("range-outside", _set("spec.space.ranges", {"top_nodes": [2, 10]}), "spec.space.ranges", "inside [3, 256]"),
    ("range-fraction", _set("spec.space.ranges", {"top_k": [2, 4.5]}), "spec.space.ranges", "whole numbers"),
    ("name-too-long", _set("metadata.name", "s" * 49), "metadata.name", "at most 48 characters"),
    ("name-with-a-dot", _set("metadata.name", "a.b"), "metadata.name", "DNS-1123 label"),
    ("range-one-bound", _set("spec.space.ranges", {"top_nodes": [4]}), "spec.space.ranges.top_nodes", "at least 2"),
    ("max-trials-fraction", _set("spec.budget.maxTrials", 2.5), "spec.budget.maxTrials", "must be of type integer"),
    (
        "deadline-int64",
        _set("spec.trial.activeDeadlineSeconds", 9223372036854775807),
        "spec.trial.activeDeadlineSeconds",
        "less than or equal to 2592000",
    ),
    (
        "timeout-huge",
        _set("spec.budget.trialTimeoutSeconds", 1e12),
        "spec.budget.trialTimeoutSeconds",
        "less than or equal to 2.592e+06",
    ),
]


# Once a type is wrong the API server adds "<nil>: ... some validation rules were not checked" (it skips the CEL
# rules), and for a fraction in an integer field also "<nil>: Checked value must be of type integer" (from minimum
# and maximum). Neither can be removed from a CRD; the first error names the field.
SERVER_NOISE = {"max-trials-fraction"}
SKIPPED_RULES = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


@pytest.mark.parametrize(("case", "change", "field", "phrase"), INVALID, ids=[case[0] for case in INVALID])
def test_an_invalid_spec_is_refused_naming_the_field(
    kube: ApiClient, api: str, namespace: str, case: str, change: Callable[[Manifest], None], field: str, phrase: str
) -> None:
    manifest = _manifest({})
    change(manifest)
    with pytest.raises(InvalidInputError):  # the models refuse it too: the CRD and pydantic agree
        parse_search(copy.deepcopy(manifest))
    with pytest.raises(ApiError) as refused:
        _dry_run(kube, api, namespace, manifest)
    message = refused.value.message
    assert (refused.value.status, refused.value.reason) == (422, "Invalid"), message
    assert f"{field}:" in message and phrase in message, message
    assert "out of bounds" not in message, message  # CEL rules never index a range the schema refused
    if case not in SERVER_NOISE:  # no field path of ours is missing (the server's note on skipped rules aside)
        assert "<nil>" not in message.replace(SKIPPED_RULES, ""), message


def test_an_unknown_spec_field_is_refused_by_strict_field_validation(kube: ApiClient, api: str, namespace: str) -> None:
    manifest = _manifest({"colour": "teal"})
    with pytest.raises(InvalidInputError):
        parse_search(copy.deepcopy(manifest))
    with pytest.raises(ApiError) as refused:
        _dry_run(kube, api, namespace, manifest)
    assert refused.value.status == 400 and refused.value.reason == "BadRequest"  # a decoding error, not a 422
    assert 'unknown field "spec.colour"' in refused.value.message


def _explain(control_plane: ControlPlane, field: str) -> str:
    """`kubectl explain` once the API server publishes the CRD's OpenAPI (a moment after it is Established)."""

    def attempt() -> str:
        return control_plane.kubectl("explain", field, check=False).stdout

    return " ".join(wait_for(f"kubectl explain {field}", attempt, timeout=60).split())


def test_kubectl_explain_documents_the_budget(control_plane: ControlPlane, api: str) -> None:
    text = _explain(control_plane, "generatorsearch.spec.budget")
    for name, field in BudgetSettings.model_fields.items():
        assert f"{field.alias} <" in text, name
        assert " ".join((field.description or "").split()) in text, name
    assert "trials, parallelism, epochs, failures" in text  # the field's own description


def test_kubectl_explain_knows_the_short_name(control_plane: ControlPlane, api: str) -> None:
    text = _explain(control_plane, "gs.spec.strategy.kind")
    assert "bo (GP + hard local penalisation), mobo, bohb, random or sobol" in text


def test_kubectl_get_gs_shows_the_printer_columns(
    control_plane: ControlPlane, kube: ApiClient, api: str, namespace: str
) -> None:
    searches = f"{api}/namespaces/{namespace}/generatorsearches"
    kube.create(searches, _manifest({"strategy": {"kind": "bohb"}}, name="columns"))
    status = SearchStatus(
        phase="Running", progress="3/12", trials=TrialCounts(total=6, running=2, pending=1, succeeded=2, failed=1),
        best=BestTrial(trial="columns-t0001", theta={"top_nodes": 4, "top_p": 0.5}, accuracy=0.875, memory=1.2e6,
                       memory_text="1.20 MB", params=50_000),
        observed_generation=1, start_time="2025-01-01T00:00:00Z", final_test_accuracy="0.9012 ± 0.0021 (4 networks)",
    )  # fmt: skip
    sent = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    stored = kube.patch(f"{searches}/columns/status", {"status": sent})
    assert stored["status"] == sent  # every field of the model survives the structural schema
    table = control_plane.kubectl("get", "gs", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME", "PHASE", "STRATEGY", "DONE", "RUNNING", "FAILED", "BEST", "MEMORY", "TEST", "AGE"]  # fmt: skip
    assert table[1].split()[:14] == [
        "columns", "Running", "bohb", "3/12", "2", "1", "0.875", "1.20", "MB",
        "0.9012", "±", "0.0021", "(4", "networks)",
    ]  # fmt: skip


def test_a_misspelt_status_field_is_pruned(kube: ApiClient, api: str, namespace: str) -> None:
    searches = f"{api}/namespaces/{namespace}/generatorsearches"
    kube.create(searches, _manifest(name="pruned"))
    stored = kube.patch(f"{searches}/pruned/status", {"status": {"phase": "Running", "phaze": "Running"}})
    assert stored["status"]["phase"] == "Running" and "phaze" not in stored["status"]


@pytest.mark.parametrize(
    ("field", "change"),
    [("strategy", {"strategy": {"kind": "bo", "seed": 9}}), ("space", {"space": {"name": "rnag"}}),
     ("dataset", {"dataset": {"trainLimit": 100}}), ("training", {"training": {"paramBudget": 1000}})],
)  # fmt: skip
def test_what_the_trials_depend_on_cannot_change_but_the_budget_can(
    kube: ApiClient, api: str, namespace: str, field: str, change: dict[str, Any]
) -> None:
    searches = f"{api}/namespaces/{namespace}/generatorsearches"
    kube.create(searches, _manifest({"strategy": {"kind": "random"}}, name="fixed"))
    with pytest.raises(ApiError) as refused:
        kube.patch(f"{searches}/fixed", {"spec": change})
    assert refused.value.status == 422 and f"spec.{field}: fixed once the search exists" in refused.value.message
    stored = kube.patch(f"{searches}/fixed", {"spec": {"budget": {"maxTrials": 99}, "suspend": True}})
    assert stored["spec"]["budget"]["maxTrials"] == 99 and stored["spec"]["suspend"] is True
