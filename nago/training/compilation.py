"""When `torch.compile` pays back within one trial (docs/trainer.md, "Compilation").

Compiling a generated network costs tens of seconds per architecture (more operations, longer) and
makes each training step faster by a roughly constant factor. The trainer times a few eager steps,
then compiles only when the steps left in the trial, at the measured speed, save more than the
compilation is expected to cost, with a margin. The cost and speed-up below were measured on these
networks (docs/benchmarks.md, training throughput); the real compile seconds are recorded in each
trial's final record.
"""

from __future__ import annotations

from dataclasses import dataclass

from nago.trial.protocol import CompileChoice

# CPU, one thread, HNAG networks of 9-90 operations at 100K parameters: compile 21-81 s,
# about 15 s + 0.8 s per operation; speed-up 1.26-1.39 (docs/benchmarks.md).
COMPILE_SECONDS_BASE = 15.0
COMPILE_SECONDS_PER_OPERATION = 0.8
CPU_SPEEDUP = 1.3
# CUDA: many small operations are launch-bound, and compilation with CUDA graphs removes most
# launches. Not measured here yet (no GPU); a conservative guess until `make gpu-check` measures it.
CUDA_SPEEDUP = 1.5
REQUIRED_SAVING = 0.1  # compile only when the rest of the trial is expected to be 10 % faster
PROBE_STEPS = 8  # eager steps timed before deciding (after one warm-up step)


@dataclass(frozen=True)
class CompileDecision:
    compile: bool
    expected_compile_seconds: float
    expected_seconds_saved: float


def estimate_compile_seconds(operations: int) -> float:
    """Expected seconds to compile the training step of a network with `operations` operations."""
    return COMPILE_SECONDS_BASE + COMPILE_SECONDS_PER_OPERATION * operations


def decide_compile(
    choice: CompileChoice, operations: int, eager_step_seconds: float, steps_left: int, device_type: str
) -> CompileDecision:
    """Compile when `choice` says so, or (auto) when the steps left save more than compiling costs:
    steps_left × t × (1 − 1/speed-up) > cost + 10 % of steps_left × t."""
    cost = estimate_compile_seconds(operations)
    speedup = CUDA_SPEEDUP if device_type == "cuda" else CPU_SPEEDUP
    eager = steps_left * eager_step_seconds
    saved = eager * (1 - 1 / speedup) - cost
    if choice is CompileChoice.ALWAYS:
        return CompileDecision(True, cost, saved)
    if choice is CompileChoice.NEVER:
        return CompileDecision(False, cost, saved)
    return CompileDecision(saved > REQUIRED_SAVING * eager, cost, saved)
