"""Randomness lives in its owner: proposers and networks draw only from generators they hold, so
proposers asked in parallel threads (the operator's worker pool) propose exactly what each proposes
alone, and nothing in the library seeds or draws from a process-wide generator."""

from __future__ import annotations

import math
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import sample_random
from nago.bo.gp_lp import LocalPenalisationProposer, draw_from_priors
from nago.bo.mobo import MoboProposer
from nago.bo.proposer import Outcome, Proposer, list_thetas
from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName
from nago.training.network import build_network

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = [ROOT / "nago", ROOT / "operator" / "nago_operator"]
PROCESS_WIDE = re.compile(
    r"\b(torch(\.cuda)?\.manual_seed(_all)?|torch\.seed|torch\.set_rng_state|torch\.random\.fork_rng"
    r"|np\.random\.seed|numpy\.random\.seed|random\.seed"
    r"|np\.random\.(rand|randn|random|randint|choice|uniform|normal|shuffle|permutation))\("
)

CUBE = SearchSpace(
    SpaceName.HNAG,  # the name only labels states; the three dimensions are what matter
    tuple(ParamRange(name, ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, name) for name in ("x", "y", "z")),
)


def _value(theta: dict[str, float]) -> float:
    return math.exp(-3 * ((theta["x"] - 0.3) ** 2 + (theta["y"] - 0.6) ** 2)) + 0.2 * math.sin(4 * theta["z"])


def _gp_lp(seed: int) -> Proposer:
    proposer = LocalPenalisationProposer(CUBE, seed=seed, initial_points=4, raw_samples=300)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        theta = {name: float(rng.random()) for name in ("x", "y", "z")}
        proposer.tell(Outcome(theta, _value(theta)))
    return proposer


def _mobo(seed: int, surrogate: str = "bnn") -> Proposer:
    proposer = MoboProposer(CUBE, seed=seed, initial_points=4, raw_samples=300, surrogate=surrogate)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        theta = {name: float(rng.random()) for name in ("x", "y", "z")}
        proposer.tell(Outcome(theta, _value(theta), 1e6 * math.exp(theta["x"] + theta["z"])))
    return proposer


# BoTorch's qLogNEHVI runs its reductions in torch's intra-op pool; with another thread computing at the same
# time they may be summed in another order, and L-BFGS-B carries the last-bit differences to about 1e-9 in the
# proposals. A shared random stream would move them by far more (other starts, other optima).
FLOAT_NOISE_UNDER_THREADS = ("mobo-gp",)
MAKERS: dict[str, Callable[[int], Proposer]] = {
    "gp-lp": _gp_lp,
    "mobo": _mobo,
    "mobo-gp": lambda seed: _mobo(seed, surrogate="gp"),
}


def test_no_process_wide_seeding_or_drawing_in_the_library() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in LIBRARY
        for path in sorted(folder.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PROCESS_WIDE.search(line)
    ]
    assert not offences, "process-wide randomness in library code:\n" + "\n".join(offences)


@pytest.mark.parametrize("kind", MAKERS)
def test_proposers_asked_in_parallel_threads_propose_what_each_proposes_alone(kind: str) -> None:
    """Alone: asking neither reads nor moves torch's or NumPy's process-wide generator (this part
    fails deterministically on a proposer that seeds torch, however rarely its race shows). Then all
    at once in threads, with a third thread reseeding torch's generator all the while."""
    seeds = (0, 1)
    alone = {}
    for seed in seeds:
        torch.manual_seed(100 + seed)
        torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
        alone[seed] = list_thetas(MAKERS[kind](seed).ask(3))
        assert torch.equal(torch.get_rng_state(), torch_state)
        assert np.array_equal(np.random.get_state()[1], numpy_state)
    stop = threading.Event()

    def disturb() -> None:  # another search's work on the process-wide generator
        while not stop.is_set():
            torch.manual_seed(7)
            torch.rand(64)

    disturber = threading.Thread(target=disturb, daemon=True)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the threads as finely as the interpreter allows
    disturber.start()
    try:
        with ThreadPoolExecutor(len(seeds)) as pool:
            together = dict(zip(seeds, pool.map(lambda s: list_thetas(MAKERS[kind](s).ask(3)), seeds), strict=True))
    finally:
        stop.set()
        disturber.join()
        sys.setswitchinterval(switch)
    if kind in FLOAT_NOISE_UNDER_THREADS:
        for seed in seeds:
            assert [list(t) for t in together[seed]] == [list(t) for t in alone[seed]]
            got = np.array([list(t.values()) for t in together[seed]])
            assert np.allclose(got, [list(t.values()) for t in alone[seed]], rtol=0, atol=1e-6)
    else:
        assert together == alone


def test_prior_draws_for_fitting_retries_come_from_the_callers_generator() -> None:
    from botorch.models import SingleTaskGP

    x = torch.rand(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    drawn = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        model = SingleTaskGP(x, x.sum(1, keepdim=True))
        draw_from_priors(model, np.random.default_rng(5))
        drawn.append(model.covar_module.lengthscale.detach().clone())
    assert torch.equal(drawn[0], drawn[1])
    assert not torch.allclose(drawn[0], SingleTaskGP(x, x.sum(1, keepdim=True)).covar_module.lengthscale)


def test_a_network_draws_its_weights_and_noise_from_its_own_seed() -> None:
    arch = sample_random("hnag", 1, seed=1, budget=2e4, head=32)
    image = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    outputs, weights = [], []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        net = build_network(arch, auxiliary=True, seed=3).train()
        net.set_drop_path(0.3)
        state = torch.get_rng_state()
        outputs.append(net(image).detach())
        assert torch.equal(torch.get_rng_state(), state)  # training noise drawn from the network's stream
        weights.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert torch.equal(weights[0], weights[1]) and torch.equal(outputs[0], outputs[1])
    other = build_network(arch, auxiliary=True, seed=4)
    assert not torch.equal(torch.cat([p.detach().flatten() for p in other.parameters()]), weights[0])


def test_draws_in_a_preserved_block_leave_the_training_stream_as_it_was() -> None:
    arch = sample_random("hnag", 1, seed=1, budget=2e4, head=32)
    image = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    probed, plain = (build_network(arch, seed=3).train() for _ in range(2))
    outputs = []
    for net, probe in ((probed, True), (plain, False)):
        net.set_drop_path(0.3)
        net(image)
        if probe:
            with net.noise.preserved():
                net(image)
        outputs.append(net(image).detach())
    assert torch.equal(outputs[0], outputs[1])
