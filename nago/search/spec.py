"""The GeneratorSearch resource: one spec for `nago search FILE` and for the Kubernetes operator.

docs/design.md §2.6 and §7.1. Field names are camelCase in YAML (Kubernetes style) and snake_case in Python;
both spellings are accepted. Every field carries a description: the CRD generated from these
models shows them in `kubectl explain`. Defaults follow the paper (appendix C, G): HNAG, batches of
8 (appendix D), 30/60/120-epoch BOHB budgets with η = 2, 8 architectures sampled from Θ* for the
final evaluation (Algorithm 1, line 10). Validation errors name the field path.
"""

from __future__ import annotations

import itertools
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from nago.errors import InvalidInputError
from nago.generator.sampling import DEFAULT_HEAD_CHANNELS, DEFAULT_PARAM_BUDGET
from nago.generator.spaces import SearchSpace, SpaceName, get_space
from nago.trial.dataset import DatasetSpec
from nago.trial.protocol import ProtocolMode, TrainingProtocol, warn_learning_rate

API_VERSION = "nago.dev/v1alpha1"
KIND = "GeneratorSearch"
FIELD_IN_MESSAGE = re.compile(r"^([A-Za-z_][\w.]*): (.*)$", re.S)
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # a DNS-1123 label: Job names derive from it


MAX_TRIAL_SECONDS = 30 * 24 * 3600  # trial time fields: 30 days; values near 2**63 overflowed the Job controller


class SpecModel(BaseModel):
    """camelCase in YAML, snake_case in Python; unknown fields are errors."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False
    )


class StrategyKind(StrEnum):
    BO = "bo"
    MOBO = "mobo"
    BOHB = "bohb"
    RANDOM = "random"
    SOBOL = "sobol"


class MoboSurrogate(StrEnum):
    BNN = "bnn"
    GP = "gp"


class BatchMode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


class Objective(StrEnum):
    ACCURACY = "accuracy"
    MEMORY = "memory"


class SpaceSettings(SpecModel):
    """Which generator space to search, and optional narrower ranges for its hyperparameters."""

    name: SpaceName = Field(default=SpaceName.HNAG, description="hnag, rnag, hnag-augv1 or hnag-augv2")
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="per hyperparameter [low, high] inside its hard limits; unset ones keep the paper's",
    )

    @model_validator(mode="after")
    def _ranges_inside_limits(self) -> SpaceSettings:
        self.build()
        return self

    def build(self) -> SearchSpace:
        return get_space(self.name, self.ranges)


class BohbSettings(SpecModel):
    """Hyperband brackets for strategy bohb (appendix C.1)."""

    eta: int = Field(strict=True, default=2, ge=2, le=10, description="halving rate between budgets")
    budgets: list[int] = Field(
        default_factory=lambda: [30, 60, 120], min_length=2, max_length=8,
        description="epochs of each rung, strictly increasing",
    )  # fmt: skip

    @field_validator("budgets")
    @classmethod
    def _increasing(cls, budgets: list[int]) -> list[int]:
        if budgets[0] < 1 or any(low >= high for low, high in itertools.pairwise(budgets)):
            raise ValueError(f"must be positive and strictly increasing, got {budgets}")
        return budgets


class StrategySettings(SpecModel):
    """How configurations are proposed (appendix B–D)."""

    kind: StrategyKind = Field(
        default=StrategyKind.BO, description="bo (GP + hard local penalisation), mobo, bohb, random or sobol"
    )
    batch_size: int = Field(strict=True, default=8, ge=1, le=1024, description="configurations proposed together (B)")
    mode: BatchMode = Field(
        default=BatchMode.ASYNC,
        description="sync: the next batch waits for the whole previous one (Algorithm 1); "
        "async: a new configuration as soon as a trial ends, penalising the running ones",
    )
    seed: int = Field(
        strict=True, default=0, ge=0, lt=2**31, description="seed of the proposer and of the trials' architectures"
    )
    initial_points: int | None = Field(
        strict=True,
        default=None,
        ge=1,
        le=10_000,
        description="space-filling points before the model is used (default d + 1)",
    )
    bohb: BohbSettings = Field(default_factory=BohbSettings, description="brackets, for kind bohb")
    surrogate: MoboSurrogate | None = Field(
        default=None,
        description="kind mobo only: bnn (appendix C.2: SGHMC BNNs, Chebyshev scalarisations, hard local "
        "penalisation) or gp (one GP per objective, qLogNEHVI); default bnn (docs/bo.md, MOBO)",
    )

    @model_validator(mode="after")
    def _surrogate_only_for_mobo(self) -> StrategySettings:
        if self.surrogate is not None and self.kind is not StrategyKind.MOBO:
            raise ValueError(f"surrogate: only strategy.kind mobo has one, not {self.kind.value}")
        return self


class BudgetSettings(SpecModel):
    """How much to spend."""

    max_trials: int = Field(
        strict=True, default=64, ge=1, le=100_000, description="trials to run in all (BOHB: every rung counts)"
    )
    parallelism: int = Field(strict=True, default=2, ge=1, le=10_000, description="trials running at once")
    max_failed_trials: int = Field(
        strict=True, default=3, ge=0, le=100_000, description="the search fails when more trials than this have failed"
    )
    epochs: int = Field(
        strict=True, default=60, ge=1, le=10_000, description="epochs per trial (strategies other than bohb)"
    )
    max_retries: int = Field(
        strict=True,
        default=2,
        ge=0,
        le=100,
        description="restarts of a trial after a run-time failure (bad input is never retried)",
    )
    metrics_timeout_seconds: float = Field(strict=True,
        default=300.0, gt=0, le=86_400.0,
        description="a trial that exited 0 without a final record is failed (MetricsMissing) after this long",
    )  # fmt: skip
    trial_timeout_seconds: float | None = Field(
        strict=True, default=None, gt=0, le=MAX_TRIAL_SECONDS,
        description="a trial running longer is stopped and failed (DeadlineExceeded); at most 30 days",
    )  # fmt: skip


class TrainingSettings(SpecModel):
    """How each search trial builds and trains its network (the search protocol, appendix C)."""

    param_budget: float = Field(
        strict=True, default=DEFAULT_PARAM_BUDGET, gt=0, le=1e10, description="parameters of each network"
    )
    head_channels: int = Field(
        strict=True, default=DEFAULT_HEAD_CHANNELS, ge=1, le=65_536, description="channels before the classifier"
    )
    protocol: TrainingProtocol = Field(
        default_factory=TrainingProtocol, description="optimiser knobs; epochs come from the budget"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="where trials train")


class FinalSettings(SpecModel):
    """Algorithm 1, line 10 (appendix G): networks sampled from the best generator, trained in full."""

    architectures: int = Field(strict=True, default=8, ge=0, le=1000, description="networks sampled from Θ* (0: skip)")
    epochs: int = Field(strict=True, default=600, ge=1, le=10_000, description="epochs of each final training")
    pareto_points: int = Field(
        strict=True, default=3, ge=1, le=100, description="MOBO: Pareto-optimal Θ evaluated, spread over the front"
    )
    train_limit: int | None = Field(strict=True,
        default=None, ge=1,
        description="training images of each final network (None: the dataset's trainLimit, as for search trials); "
        "set it above the training split's size to train on all of it",
    )  # fmt: skip
    protocol: TrainingProtocol = Field(
        default_factory=lambda: TrainingProtocol(mode=ProtocolMode.FINAL),
        description="the final protocol: cutout, drop-path, auxiliary head, clipping",
    )


class TrialTemplate(SpecModel):
    """How a trial's Job looks on Kubernetes; ignored by `nago search` on one machine."""

    image: str = Field(default="ghcr.io/nago-dev/nago-trainer:latest", min_length=1, description="trainer image")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="when the trainer image is pulled: Always, IfNotPresent or Never"
    )
    command: list[str] = Field(
        default_factory=lambda: ["nago", "train"], min_length=1, max_length=32,
        description="the trainer's command in the image; the operator appends --trial-json with the trial",
    )  # fmt: skip
    resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"limits": {"nvidia.com/gpu": "1"}},
        description="container resources (requests, limits), e.g. nvidia.com/gpu",
    )
    node_selector: dict[str, str] = Field(default_factory=dict, description="node labels a trial pod requires")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="pod tolerations")
    affinity: dict[str, Any] | None = Field(default=None, description="pod affinity")
    env: list[dict[str, Any]] = Field(default_factory=list, description="extra container environment")
    volumes: list[dict[str, Any]] = Field(default_factory=list, description="pod volumes, e.g. the dataset PVC")
    volume_mounts: list[dict[str, Any]] = Field(default_factory=list, description="container volume mounts")
    service_account_name: str | None = Field(default=None, description="service account of trial pods")
    active_deadline_seconds: int | None = Field(
        strict=True, default=None, ge=1, le=MAX_TRIAL_SECONDS, description="Job deadline, seconds; at most 30 days"
    )


class GeneratorSearchSpec(SpecModel):
    """What to search, on which data, with which strategy and budget."""

    space: SpaceSettings = Field(default_factory=SpaceSettings, description="the generator space")
    dataset: DatasetSpec = Field(default_factory=DatasetSpec, description="training data (read from disk)")
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective.ACCURACY],
        min_length=1, max_length=2, description="accuracy, and memory for MOBO",
    )  # fmt: skip
    strategy: StrategySettings = Field(default_factory=StrategySettings, description="how configurations are proposed")
    budget: BudgetSettings = Field(default_factory=BudgetSettings, description="trials, parallelism, epochs, failures")
    training: TrainingSettings = Field(default_factory=TrainingSettings, description="how trials train")
    final: FinalSettings = Field(default_factory=FinalSettings, description="the final evaluation")
    trial: TrialTemplate = Field(default_factory=TrialTemplate, description="the trial Job template (cluster only)")
    suspend: bool = Field(default=False, description="stop running trials and propose nothing until false again")

    @model_validator(mode="after")
    def _consistent(self) -> GeneratorSearchSpec:
        if len(set(self.objectives)) != len(self.objectives) or Objective.ACCURACY not in self.objectives:
            raise ValueError("objectives: must hold accuracy, optionally memory, each once")
        wants_memory = Objective.MEMORY in self.objectives
        if wants_memory != (self.strategy.kind is StrategyKind.MOBO):
            raise ValueError("objectives: memory is an objective exactly when strategy.kind is mobo")
        self.dataset.resolved_path()  # a dataset other than Fashion-MNIST needs its path
        return self


class ObjectMeta(SpecModel):
    """The parts of Kubernetes metadata we read."""

    model_config = ConfigDict(frozen=True, extra="allow", alias_generator=to_camel, populate_by_name=True)

    name: str = Field(min_length=1, max_length=48, pattern=NAME_PATTERN, description="the search's name")
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    uid: str | None = None


class GeneratorSearch(SpecModel):
    """A whole manifest: apiVersion, kind, metadata, spec."""

    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True)

    api_version: Literal["nago.dev/v1alpha1"] = Field(description=f"must be {API_VERSION}")
    kind: Literal["GeneratorSearch"] = Field(description=f"must be {KIND}")
    metadata: ObjectMeta
    spec: GeneratorSearchSpec = Field(default_factory=GeneratorSearchSpec)


def list_problems(error: ValidationError, root: str = "manifest") -> list[tuple[str, str]]:
    """(field path as written in YAML, what is wrong) per problem; `root` names a problem of the whole
    document. A validator that names a field in its message ("objectives: …") extends the path with it."""
    problems = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        named = FIELD_IN_MESSAGE.match(message)
        if named:
            path, message = f"{path}.{named[1]}" if path else named[1], named[2]
        problems.append((path or root, message))
    return problems


def parse_search(document: Any) -> GeneratorSearch:
    """Validate a parsed manifest; raises InvalidInputError naming the (first) field at fault."""
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise InvalidInputError("manifest", f"must be a mapping with apiVersion, kind, metadata and spec, got {kind}")
    try:
        return GeneratorSearch.model_validate(document)
    except ValidationError as error:
        problems = list_problems(error)
        (field, message), rest = problems[0], problems[1:]
        raise InvalidInputError(field, "; ".join([message] + [f"{f}: {m}" for f, m in rest])) from None


def load_search(path: Path) -> GeneratorSearch:
    """Read a GeneratorSearch manifest from a YAML or JSON file."""
    from nago.safe_yaml import load_yaml_documents, read_text_file

    documents = load_yaml_documents(read_text_file(path, "manifest"), str(path), "manifest")
    if len(documents) != 1:
        raise InvalidInputError("manifest", f"{path} must hold exactly one document, found {len(documents)}")
    return parse_search(documents[0])


def list_spec_warnings(spec: GeneratorSearchSpec) -> list[str]:
    """A line for each setting that is allowed but almost surely not meant: a learning rate far
    from the batch rule (appendix C), a range that cannot change the sampled networks."""
    from nago.generator.spaces import list_ranges_that_cannot_matter

    ranges = [f"spec.space.ranges.{name}: {why}" for name, why in list_ranges_that_cannot_matter(spec.space.build())]
    return [*list_learning_rate_warnings(spec), *ranges]


def list_learning_rate_warnings(spec: GeneratorSearchSpec) -> list[str]:
    """A line for each protocol whose set learning rate is far from the batch rule (appendix C)."""
    warnings = []
    for field, protocol in (("training", spec.training.protocol), ("final", spec.final.protocol)):
        rate, batch = protocol.learning_rate, protocol.batch_size
        if rate is not None and batch is not None and (warning := warn_learning_rate(rate, batch)):
            warnings.append(f"spec.{field}.protocol: {warning}")
    return warnings
