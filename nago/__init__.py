"""nago: Neural Architecture Generator Optimization (Ru, Esperança & Carlucci, NeurIPS 2020).

Bayesian optimisation of the hyperparameters Θ of a hierarchical random-graph generator of network
architectures. The public entry points, by package (docs/design.md §2):

- `nago.generator`: `get_space(name, ranges)` a space of Θ; `sample_architecture(space, theta, seed,
  input_spec, param_budget, head_channels)` one architecture; `summarise_architecture(arch)` its
  parameters, MACs and memory per image.
- `nago.trial`: `TrialSpec`, the one trial a trainer runs.
- `nago.training`: `run_trial(spec, sinks)` trains it (the only entry point that loads torch).
- `nago.bo`: `build_proposer(kind, space, settings)` any strategy behind the one `Proposer` interface.
- `nago.search`: `load_search(path)` a GeneratorSearch manifest; `reconcile(spec, ledger, events, now)`
  the engine's pure step; `LocalRunner(search, state_dir).run()` a whole search on one machine.

Every name above is importable from `nago` itself, loaded on first use, so `import nago` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_ENTRY_POINTS = {
    "get_space": "nago.generator.spaces",
    "sample_architecture": "nago.generator.sampling",
    "summarise_architecture": "nago.generator.summary",
    "TrialSpec": "nago.trial.spec",
    "run_trial": "nago.training.trainer",
    "build_proposer": "nago.bo.registry",
    "Proposer": "nago.bo.proposer",
    "load_search": "nago.search.spec",
    "reconcile": "nago.search.engine",
    "LocalRunner": "nago.search.local_runner",
}

__all__ = ["__version__", *_ENTRY_POINTS]


def __getattr__(name: str) -> Any:
    module = _ENTRY_POINTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nago' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
