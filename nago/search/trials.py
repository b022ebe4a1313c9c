"""From a ledger entry to the input of `nago train`: one function for the local runner and the operator."""

from __future__ import annotations

from pathlib import Path

from nago.search.ledger import TrialEntry, TrialPurpose
from nago.search.spec import GeneratorSearch
from nago.trial.spec import TrialSpec


def build_trial_spec(search: GeneratorSearch, entry: TrialEntry, checkpoint: Path | None) -> TrialSpec:
    """The trial's TrialSpec: search trials use the search protocol at the entry's budget (epochs);
    final trials use the final protocol (Algorithm 1, line 10; appendix G), on `final.trainLimit`
    training images when it is set."""
    spec = search.spec
    settings = spec.final.protocol if entry.purpose is TrialPurpose.FINAL else spec.training.protocol
    protocol = settings.model_copy(update={"epochs": entry.budget})
    dataset = spec.dataset
    if entry.purpose is TrialPurpose.FINAL and spec.final.train_limit is not None:
        dataset = dataset.model_copy(update={"train_limit": spec.final.train_limit})
    return TrialSpec(
        search=search.metadata.name, trial_id=entry.trial_id, attempt=entry.attempt,
        space=spec.space.name, ranges=dict(spec.space.ranges), theta=dict(entry.theta), seed=entry.seed,
        param_budget=spec.training.param_budget, head_channels=spec.training.head_channels,
        dataset=dataset, protocol=protocol, device=spec.training.device, checkpoint=checkpoint,
    )  # fmt: skip
