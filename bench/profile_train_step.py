"""Where a training step of `nago train` spends its time on the CPU: torch.profiler over one short epoch.

Prints the operators with the most self CPU time, grouped into convolution (forward and backward),
batch norm, elementwise (ReLU, additions, the merges' weighted sums), the optimizer and data
preparation, for one HNAG network of the quickstart's ranges (docs/benchmarks.md, "Where a step's
time goes").

    .venv/bin/python bench/profile_train_step.py --param-budget 1e5 --steps 40
"""

from __future__ import annotations

import argparse
import io
from collections import defaultdict
from pathlib import Path

import numpy as np
from torch.profiler import ProfilerActivity, profile

from nago.generator.architecture import InputSpec
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space
from nago.search.spec import load_search
from nago.training.trainer import run_trial
from nago.trial.dataset import DatasetSpec
from nago.trial.protocol import TrainingProtocol
from nago.trial.sinks import StdoutSink
from nago.trial.spec import TrialSpec

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "fashion-mnist-quickstart.yaml"
QUICKSTART_RANGES = dict(load_search(QUICKSTART).spec.space.ranges)  # read from the quickstart's manifest
GROUPS = (
    ("convolution", ("conv", "mkldnn_convolution", "convolution")),
    ("batch norm", ("batch_norm", "native_batch_norm")),
    ("optimizer", ("sgd", "_foreach", "optimizer")),
    ("elementwise", ("relu", "threshold", "add", "mul", "div", "sigmoid", "sum", "mean", "copy_", "fill_")),
    ("pooling", ("pool",)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--param-budget", type=float, default=1e5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--theta-seed", type=int, default=0)
    args = parser.parse_args()
    space = get_space("hnag", QUICKSTART_RANGES)
    theta = dict(space.sample_theta(np.random.default_rng(args.theta_seed)))
    arch = sample_architecture(space, theta, 0, InputSpec(channels=1, size=28), args.param_budget, 64)
    print(f"network: {arch.node_count} operations, width {arch.width:.1f}, Θ {theta}")
    spec = TrialSpec(
        theta=theta, ranges=QUICKSTART_RANGES, param_budget=args.param_budget, head_channels=64, device="cpu",
        dataset=DatasetSpec(train_limit=args.steps * args.batch_size + 200, validation_fraction=0.05),
        protocol=TrainingProtocol(epochs=1, batch_size=args.batch_size, augment=False, compile="never"),
    )  # fmt: skip
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run_trial(spec, [StdoutSink(io.StringIO())])
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = defaultdict(float)
    for event in events:
        name = event.key.lower()
        group = next((g for g, keys in GROUPS if any(k in name for k in keys)), "other")
        groups[group] += event.self_cpu_time_total
    print(f"self CPU time {total / 1e6:.2f} s (training, batch-norm pass and evaluation)")
    for group, micros in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {group:12s} {micros / total:6.1%}")
    print("top operators:")
    for event in sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]:
        print(f"  {event.key:40s} {event.self_cpu_time_total / total:6.1%}  calls {event.count}")


if __name__ == "__main__":
    main()
