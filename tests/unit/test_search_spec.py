"""The GeneratorSearch spec: defaults from the paper, both spellings, and 20+ mistakes each named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nago.errors import InvalidInputError
from nago.generator.spaces import SpaceName
from nago.search.spec import BatchMode, StrategyKind, list_learning_rate_warnings, load_search, parse_search
from nago.trial.protocol import ProtocolMode, Regularisation


def _manifest(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "nago.dev/v1alpha1", "kind": "GeneratorSearch", "metadata": {"name": "demo"}, "spec": spec}


def test_defaults_follow_the_paper() -> None:
    spec = parse_search(_manifest()).spec
    assert spec.space.name is SpaceName.HNAG and spec.strategy.kind is StrategyKind.BO
    assert spec.strategy.batch_size == 8 and spec.strategy.mode is BatchMode.ASYNC
    assert spec.strategy.bohb.eta == 2 and spec.strategy.bohb.budgets == [30, 60, 120]
    assert spec.final.architectures == 8 and spec.final.protocol.mode is ProtocolMode.FINAL
    final = spec.final.protocol.model_copy(update={"epochs": spec.final.epochs})
    assert spec.final.epochs == 600 and final.regularisation(32) == Regularisation(16, 0.2, 0.4)


def test_camel_and_snake_case_are_both_accepted() -> None:
    camel = parse_search(_manifest(budget={"maxTrials": 5}, training={"protocol": {"dropPath": 0.1}}))
    snake = parse_search(_manifest(budget={"max_trials": 5}, training={"protocol": {"drop_path": 0.1}}))
    assert camel == snake and camel.spec.budget.max_trials == 5 and camel.spec.training.protocol.drop_path == 0.1


def test_mobo_needs_memory_and_reads_it() -> None:
    spec = parse_search(_manifest(objectives=["accuracy", "memory"], strategy={"kind": "mobo"})).spec
    assert [o.value for o in spec.objectives] == ["accuracy", "memory"]
    assert spec.strategy.surrogate is None  # the default, bnn
    gp = parse_search(_manifest(objectives=["accuracy", "memory"], strategy={"kind": "mobo", "surrogate": "gp"}))
    assert gp.spec.strategy.surrogate == "gp"


MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("wrong api version", {"apiVersion": "nago.dev/v1"}, "apiVersion"),
    ("wrong kind", {"kind": "Experiment"}, "kind"),
    ("no metadata", {"metadata": None}, "metadata"),
    ("bad name", {"metadata": {"name": "My_Search"}}, "metadata.name"),
    ("unknown top-level spec field", {"spec": {"budjet": {}}}, "spec.budjet"),
    ("unknown space", {"spec": {"space": {"name": "darts"}}}, "spec.space.name"),
    ("range outside the hard limits", {"spec": {"space": {"ranges": {"top_p": [0, 5]}}}}, "spec.space.ranges.top_p"),
    ("unknown range", {"spec": {"space": {"ranges": {"depth": [1, 2]}}}}, "spec.space.ranges.depth"),
    ("unknown strategy", {"spec": {"strategy": {"kind": "tpe"}}}, "spec.strategy.kind"),
    ("batch size 0", {"spec": {"strategy": {"batchSize": 0}}}, "spec.strategy.batchSize"),
    ("unknown batch mode", {"spec": {"strategy": {"mode": "eager"}}}, "spec.strategy.mode"),
    ("negative seed", {"spec": {"strategy": {"seed": -1}}}, "spec.strategy.seed"),
    ("eta 1", {"spec": {"strategy": {"bohb": {"eta": 1}}}}, "spec.strategy.bohb.eta"),
    ("budgets decreasing", {"spec": {"strategy": {"bohb": {"budgets": [60, 30]}}}}, "spec.strategy.bohb.budgets"),
    ("parallelism 0", {"spec": {"budget": {"parallelism": 0}}}, "spec.budget.parallelism"),
    ("max trials as text", {"spec": {"budget": {"maxTrials": "many"}}}, "spec.budget.maxTrials"),
    ("negative failures", {"spec": {"budget": {"maxFailedTrials": -1}}}, "spec.budget.maxFailedTrials"),
    ("epochs 0", {"spec": {"budget": {"epochs": 0}}}, "spec.budget.epochs"),
    ("unknown dataset", {"spec": {"dataset": {"kind": "imagenet"}}}, "spec.dataset.kind"),
    ("dataset without a path", {"spec": {"dataset": {"kind": "cifar10"}}}, "spec.dataset.path"),
    ("validation fraction 1", {"spec": {"dataset": {"validationFraction": 1.0}}}, "spec.dataset.validationFraction"),
    ("memory without mobo", {"spec": {"objectives": ["accuracy", "memory"]}}, "spec.objectives"),
    ("mobo without memory", {"spec": {"strategy": {"kind": "mobo"}}}, "spec.objectives"),
    ("surrogate for bo", {"spec": {"strategy": {"surrogate": "gp"}}}, "spec.strategy.surrogate"),
    (
        "unknown surrogate",
        {"spec": {"objectives": ["accuracy", "memory"], "strategy": {"kind": "mobo", "surrogate": "forest"}}},
        "spec.strategy.surrogate",
    ),
    ("unknown objective", {"spec": {"objectives": ["latency"]}}, "spec.objectives.0"),
    (
        "negative learning rate",
        {"spec": {"training": {"protocol": {"learningRate": -0.1}}}},
        "spec.training.protocol.learningRate",
    ),
    ("unknown device", {"spec": {"training": {"device": "tpu"}}}, "spec.training.device"),
    ("final architectures negative", {"spec": {"final": {"architectures": -2}}}, "spec.final.architectures"),
    ("suspend as text", {"spec": {"suspend": "maybe"}}, "spec.suspend"),
    ("pull policy", {"spec": {"trial": {"imagePullPolicy": "Sometimes"}}}, "spec.trial.imagePullPolicy"),
    ("bool for an integer", {"spec": {"budget": {"maxTrials": True}}}, "spec.budget.maxTrials"),
    ("text for an integer", {"spec": {"budget": {"maxTrials": "2"}}}, "spec.budget.maxTrials"),
    ("fraction for an integer", {"spec": {"budget": {"maxTrials": 2.5}}}, "spec.budget.maxTrials"),
    ("text for a number", {"spec": {"training": {"paramBudget": "1e5"}}}, "spec.training.paramBudget"),
    ("NaN budget", {"spec": {"training": {"paramBudget": float("nan")}}}, "spec.training.paramBudget"),
    (
        "infinite timeout",
        {"spec": {"budget": {"trialTimeoutSeconds": float("inf")}}},
        "spec.budget.trialTimeoutSeconds",
    ),
    (
        "infinite learning rate",
        {"spec": {"training": {"protocol": {"learningRate": float("inf")}}}},
        "spec.training.protocol.learningRate",
    ),
]


@pytest.mark.parametrize(("mistake", "change", "field"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_names_its_field(mistake: str, change: dict[str, Any], field: str) -> None:
    document = _manifest()
    for key, value in change.items():
        if key == "spec":
            document["spec"] = value
        else:
            document[key] = value
    with pytest.raises(InvalidInputError) as raised:
        parse_search(document)
    assert raised.value.field == field, str(raised.value)
    assert str(raised.value).startswith(f"{field}: ") and len(raised.value.message) > 5


def test_a_manifest_that_is_not_a_mapping_is_named() -> None:
    with pytest.raises(InvalidInputError, match="manifest"):
        parse_search(["not", "a", "mapping"])


@pytest.mark.parametrize(
    ("text", "message"),
    [("kind: [unclosed", "not valid YAML"), ("a: 1\n---\nb: 2\n", "exactly one document"), ("", "exactly one")],
)
def test_unreadable_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=message):
        load_search(path)


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).resolve().parents[2].glob("examples/*.yaml")), ids=lambda p: p.name
)
def test_every_example_is_a_valid_search(path: Path) -> None:
    search = load_search(path)
    assert search.metadata.name == path.stem


@pytest.mark.parametrize(
    ("training", "final", "fields"),
    [
        ({"batchSize": 32, "learningRate": 0.1}, {}, ["spec.training.protocol"]),  # 7.4× the rule at batch 32
        ({"batchSize": 32, "learningRate": 0.03}, {"batchSize": 32, "learningRate": 0.03}, []),  # the quickstart's
        ({"learningRate": 0.1}, {"batchSize": 512, "learningRate": 0.001}, ["spec.final.protocol"]),  # batch unset
        ({}, {}, []),
    ],
)
def test_a_learning_rate_far_from_the_batch_rule_is_warned_about(
    training: dict[str, float], final: dict[str, float], fields: list[str]
) -> None:
    spec = parse_search(_manifest(training={"protocol": training}, final={"protocol": {"mode": "final", **final}})).spec
    warnings = list_learning_rate_warnings(spec)
    assert [w.split(":")[0] for w in warnings] == fields
