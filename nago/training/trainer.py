"""Train one trial and report it: the body of `nago train` (appendix C, G; docs/design.md §2.7).

Data are decoded once and kept as uint8 tensors (on the GPU when there is one); batches are
indexed, augmented and normalised as whole tensors. Each epoch ends with a validation pass, an
epoch record and, when a checkpoint path is given, an atomic checkpoint, so a preempted trial
resumes at the last finished epoch and ends with the same epochs and records. The run ends with
one final record, also when it fails; the exit code says how it ended (`nago.exit_codes`).
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional

from nago.atomic import check_writable
from nago.errors import InvalidInputError
from nago.exit_codes import ExitCode
from nago.generator.architecture import Architecture, InputSpec, read_architecture
from nago.generator.complexity import Complexity, measure_complexity
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space
from nago.training.augment import crop_padding_for, cutout, random_crop, random_flip
from nago.training.checkpoint import load_checkpoint, save_checkpoint
from nago.training.compilation import PROBE_STEPS, decide_compile
from nago.training.data import ImageSet, LoadedDataset, load_dataset
from nago.training.memory import measure_memory_per_image
from nago.training.network import GeneratedNetwork, build_network
from nago.trial.protocol import REFERENCE_BATCH, ProtocolMode, Regularisation, TrainingProtocol, warn_learning_rate
from nago.trial.records import EpochRecord, FinalRecord, compute_trial_digest
from nago.trial.sinks import RecordSink
from nago.trial.spec import TrialSpec

BATCH_NORM_IMAGES = 2048  # training images whose statistics evaluation uses (recompute_batch_norm)
CUDA_MEMORY_HEADROOM = 0.8  # share of free device memory the automatic batch may plan to use
# Divergence (docs/trainer.md, "Divergence"): a validation loss this many times the chance loss ln(C) at
# the end, or a training loss within 2 % of ln(C) in every epoch of a run of at least 100 steps.
EXPLODED_LOSS_FACTOR = 100.0
STUCK_LOSS_SHARE = 0.98
STUCK_MIN_STEPS = 100


class TrainingDivergedError(Exception):
    """Training went nowhere a retry could fix: non-finite or exploding loss, or stuck at chance."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_device(choice: str) -> torch.device:
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InvalidInputError("device", "cuda was asked for but this machine has no CUDA device; use cpu or auto")
    return torch.device("cuda")


def resolve_architecture(spec: TrialSpec, input_spec: InputSpec) -> Architecture:
    """Sample from (space, Θ, seed), or read the JSON and check it fits the dataset."""
    if spec.architecture is not None:
        arch = read_architecture(spec.architecture)
        if arch.input != input_spec:
            raise InvalidInputError(
                "architecture",
                f"{spec.architecture} is built for {arch.input.label()} with {arch.input.num_classes} classes, "
                f"the dataset has {input_spec.label()} with {input_spec.num_classes}",
            )
        return arch
    assert spec.theta is not None
    space = get_space(spec.space, spec.ranges)
    return sample_architecture(space, spec.theta, spec.seed, input_spec, spec.param_budget, spec.head_channels)


def device_memory_bytes(device: torch.device) -> int:
    """All the memory a network could train in: the GPU's total, or the machine's physical memory."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[1])
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_fits_device(size: Complexity, device: torch.device, batch_size: int, available: int) -> None:
    """Refuse, before anything is allocated, a network whose training cannot fit in `available` bytes:
    fp32 weights, gradients and momentum (×4 with slack) plus the activations of one smallest batch
    (`size`: the analytic counts of `nago.generator.complexity`)."""
    needed = size.params * 4 * 4 + size.activation_bytes_per_image * max(1, min(batch_size, 8))
    if needed > available:
        raise InvalidInputError(
            "param_budget",
            f"a network of {size.params:,} parameters ({size.activation_bytes_per_image / 1e6:,.0f} MB of "
            f"activations per image) needs about {needed / 1e9:,.1f} GB to train; this {device.type} has "
            f"{available / 1e9:,.1f} GB",
        )


def choose_batch_size(
    net: GeneratedNetwork, input_spec: InputSpec, protocol: TrainingProtocol, device: torch.device, train_size: int
) -> tuple[int, float | None]:
    """The protocol's batch, or the largest that fits (appendix C): on CUDA from the measured memory
    per image and the free memory, capped at `max_batch_size`; on CPU the reference batch of 96.
    Also returns the measured memory per image (None on CPU)."""
    cap = max(2, min(protocol.max_batch_size, train_size))
    if device.type != "cuda":
        return (protocol.batch_size or min(REFERENCE_BATCH, cap)), None
    probe = copy.deepcopy(net)  # its own copy of the noise stream: probing draws nothing from `net`'s
    per_image = measure_memory_per_image(probe, input_spec, device=str(device))
    del probe
    torch.cuda.empty_cache()
    if protocol.batch_size is not None:
        return protocol.batch_size, per_image
    free, _total = torch.cuda.mem_get_info(device)
    static = sum(p.numel() * p.element_size() for p in net.parameters()) * 4  # weights, grads, momentum, slack
    fits = int((free * CUDA_MEMORY_HEADROOM - static) / max(per_image, 1.0))
    batch = max(1, min(cap, fits))
    return (batch // 8 * 8 if batch >= 8 else batch), per_image


@dataclass
class _DeviceData:
    """A split's images and labels on the training device."""

    images: Tensor
    labels: Tensor

    @classmethod
    def of(cls, split: ImageSet, device: torch.device) -> _DeviceData:
        if device.type == "cuda":
            return cls(
                split.images.pin_memory().to(device, non_blocking=True),
                split.labels.pin_memory().to(device, non_blocking=True),
            )
        return cls(split.images, split.labels)


@dataclass
class _Run:
    spec: TrialSpec
    arch: Architecture
    size: Complexity  # the analytic counts of `arch`, computed once
    data: LoadedDataset
    net: GeneratedNetwork
    device: torch.device
    batch_size: int
    learning_rate: float
    optimizer: torch.optim.SGD
    scheduler: torch.optim.lr_scheduler.CosineAnnealingLR
    generator: torch.Generator
    mean: Tensor
    std: Tensor
    measured_memory: float | None
    regularisation: Regularisation
    forward: Callable[[Tensor], tuple[Tensor, Tensor | None]] | None = None
    compile_decided: bool = False
    compile_seconds: float | None = None
    epochs_done: int = 0
    steps: int = 0
    train_losses: list[float] = field(default_factory=list)
    best_val_accuracy: float = 0.0
    last_val_accuracy: float = 0.0
    last_val_loss: float = 0.0
    train_seconds: float = 0.0

    @property
    def protocol(self) -> TrainingProtocol:
        return self.spec.protocol

    @property
    def compiled(self) -> bool:
        return self.forward is not None

    @property
    def use_bf16(self) -> bool:
        return self.device.type == "cuda"

    def identity(self) -> dict[str, Any]:
        return {"trial_id": self.spec.trial_id, "seed": self.spec.seed, "fingerprint": self.arch.fingerprint()}

    def state(self) -> dict[str, Any]:
        return {
            "identity": self.identity(),
            "epochs_done": self.epochs_done,
            "steps": self.steps,
            "train_losses": self.train_losses,
            "best_val_accuracy": self.best_val_accuracy,
            "last_val_accuracy": self.last_val_accuracy,
            "last_val_loss": self.last_val_loss,
            "train_seconds": self.train_seconds,
            "batch_size": self.batch_size,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "noise": self.net.noise.generator.get_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        if "noise" in state:  # checkpoints before the network owned its noise stream restart it from the seed
            self.net.noise.generator.set_state(state["noise"])
        self.epochs_done = int(state["epochs_done"])
        self.steps = int(state.get("steps", 0))
        self.train_losses = [float(loss) for loss in state.get("train_losses", [])]
        self.best_val_accuracy = float(state["best_val_accuracy"])
        self.last_val_accuracy = float(state["last_val_accuracy"])
        self.last_val_loss = float(state.get("last_val_loss", 0.0))
        self.train_seconds = float(state["train_seconds"])


def _prepare(spec: TrialSpec) -> _Run:
    protocol = spec.protocol
    if spec.checkpoint is not None:
        check_writable(spec.checkpoint, "checkpoint")
    data = load_dataset(spec.dataset, with_test=protocol.mode is ProtocolMode.FINAL)
    input_spec = InputSpec(channels=data.channels, size=data.size, num_classes=data.num_classes)
    arch = resolve_architecture(spec, input_spec)
    device = resolve_device(spec.device)
    size = measure_complexity(arch)
    check_fits_device(size, device, protocol.batch_size or REFERENCE_BATCH, device_memory_bytes(device))
    generator = torch.Generator().manual_seed(spec.seed)  # data order and augmentation
    regularisation = protocol.regularisation(data.size)
    net = build_network(arch, auxiliary=regularisation.auxiliary_weight > 0, seed=spec.seed, device=device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    batch_size, measured = choose_batch_size(net, input_spec, protocol, device, len(data.train))
    learning_rate = protocol.learning_rate_for(batch_size)
    if protocol.learning_rate is not None and (warning := warn_learning_rate(learning_rate, batch_size)):
        _log(f"nago train: {warning}")
    optimizer = torch.optim.SGD(
        net.parameters(), lr=learning_rate, momentum=protocol.momentum, weight_decay=protocol.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=protocol.epochs, eta_min=0.0)
    mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
    run = _Run(
        spec, arch, size, data, net, device, batch_size, learning_rate, optimizer, scheduler, generator, mean, std,
        measured, regularisation,
    )  # fmt: skip
    if spec.checkpoint is not None:
        saved = load_checkpoint(spec.checkpoint, run.identity())
        if saved is not None:
            run.restore(saved)
            _log(f"resumed {spec.trial_id} from {spec.checkpoint} after epoch {run.epochs_done}")
    return run


def _batches(run: _Run, split: _DeviceData, batch_size: int, order: Tensor | None) -> list[Tensor]:
    n = int(split.labels.shape[0])
    index = order if order is not None else torch.arange(n)
    chunks = [index[i : i + batch_size] for i in range(0, n, batch_size)]
    return [c.to(run.device) for c in chunks if len(c) > 1 or order is None]


def _decide_compile(run: _Run, probe_started: float, steps_left: int) -> None:
    """After PROBE_STEPS timed eager steps: compile the training step if it pays (nago.training.compilation)."""
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    step_seconds = (time.perf_counter() - probe_started) / PROBE_STEPS
    epochs_left = run.protocol.epochs - run.epochs_done - 1
    steps_left += epochs_left * (len(run.data.train) // run.batch_size)
    decision = decide_compile(run.protocol.compile, run.arch.node_count, step_seconds, steps_left, run.device.type)
    run.compile_decided = True
    _log(
        f"compile: {'yes' if decision.compile else 'no'} ({run.protocol.compile.value}; {steps_left} steps left at "
        f"{step_seconds * 1000:.0f} ms, expected cost {decision.expected_compile_seconds:.0f} s, "
        f"expected saving {decision.expected_seconds_saved:.0f} s)"
    )
    if decision.compile:
        mode = "reduce-overhead" if run.device.type == "cuda" else None  # CUDA graphs on the GPU
        run.forward = torch.compile(run.net.forward_with_auxiliary, mode=mode, dynamic=False)


def _train_epoch(run: _Run, train: _DeviceData) -> tuple[float, float, int]:
    """One pass over the training split; returns mean loss, accuracy and images seen."""
    protocol = run.protocol
    run.net.train()
    order = torch.randperm(int(train.labels.shape[0]), generator=run.generator)
    loss_sum = torch.zeros((), device=run.device)
    correct = torch.zeros((), device=run.device, dtype=torch.long)
    seen = 0
    probe_started = time.perf_counter()
    padding = crop_padding_for(run.data.size)
    batches = _batches(run, train, run.batch_size, order)
    for number, index in enumerate(batches):
        if run.compiled and len(index) < run.batch_size:
            continue  # a compiled step keeps one batch shape: the short last batch is left out
        if not run.compile_decided and number == 1 + PROBE_STEPS:
            _decide_compile(run, probe_started, steps_left=len(batches) - number)
        if number == 1:
            probe_started = time.perf_counter()
        step_started = time.perf_counter()
        x = train.images[index].float().div_(255)
        y = train.labels[index]
        if protocol.augment:
            x = random_flip(random_crop(x, padding, run.generator), run.generator)
        x = (x - run.mean) / run.std
        x = cutout(x, run.regularisation.cutout, run.generator)
        if run.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.use_bf16):
            logits, aux = (run.forward or run.net.forward_with_auxiliary)(x)
        loss = functional.cross_entropy(logits.float(), y, label_smoothing=protocol.label_smoothing)
        if aux is not None:
            aux_loss = functional.cross_entropy(aux.float(), y, label_smoothing=protocol.label_smoothing)
            loss = loss + run.regularisation.auxiliary_weight * aux_loss
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if protocol.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(run.net.parameters(), protocol.grad_clip)
        run.optimizer.step()
        loss_sum += loss.detach() * len(index)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(index)
        run.steps += 1
        if run.compiled and run.compile_seconds is None:
            run.compile_seconds = time.perf_counter() - step_started
    if not torch.isfinite(loss_sum):
        raise TrainingDivergedError(f"the training loss is not finite after {run.steps} steps; lower the learning rate")
    return float(loss_sum) / max(seen, 1), float(correct) / max(seen, 1), seen


def _normalised(run: _Run, split: _DeviceData, index: Tensor) -> Tensor:
    """The images at `index` as the network reads them, without augmentation: scaled, normalised, and
    channels-last on CUDA."""
    x = (split.images[index].float().div_(255) - run.mean) / run.std
    return x.contiguous(memory_format=torch.channels_last) if run.device.type == "cuda" else x


@torch.no_grad()
def recompute_batch_norm(run: _Run, train: _DeviceData) -> None:
    """Re-estimate every batch-norm layer's running mean and variance with the current weights, as
    the average over the first BATCH_NORM_IMAGES training images in training batches (docs/trainer.md,
    "Evaluation"). Running averages with momentum 0.1 lag weights that moved fast during the epoch,
    which made short runs evaluate far below their training accuracy. Training is untouched: in
    training mode a layer normalises with its batch's own statistics."""
    norms = [m for m in run.net.modules() if isinstance(m, nn.BatchNorm2d) and m.running_mean is not None]
    sums: dict[nn.BatchNorm2d, list[Tensor]] = {m: [] for m in norms}

    def capture(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        x = inputs[0].float()
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=True)
        sums[module].append(torch.stack([mean, var]))  # type: ignore[index]

    hooks = [m.register_forward_pre_hook(capture) for m in norms]
    run.net.train()
    count = min(BATCH_NORM_IMAGES, int(train.labels.shape[0]))
    # The head's dropout draws from the network's noise stream in training mode: the stream is kept,
    # so training continues with the same draws as without this pass.
    try:
        with run.net.noise.preserved(), run.net.paused_drop_path():
            for index in _batches(run, train, run.batch_size, torch.arange(count)):
                with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.use_bf16):
                    run.net(_normalised(run, train, index))
    finally:
        for hook in hooks:
            hook.remove()
    for norm, stats in sums.items():
        if stats:
            mean, var = torch.stack(stats).mean(dim=0)
            running_mean, running_var = norm.running_mean, norm.running_var
            assert running_mean is not None and running_var is not None
            running_mean.copy_(mean)
            running_var.copy_(var)


@torch.no_grad()
def evaluate(run: _Run, split: _DeviceData) -> tuple[float, float]:
    """Mean loss and accuracy on a split, in evaluation mode."""
    run.net.eval()
    loss_sum = torch.zeros((), device=run.device)
    correct = torch.zeros((), device=run.device, dtype=torch.long)
    for index in _batches(run, split, run.protocol.eval_batch_size, None):
        x = _normalised(run, split, index)
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.use_bf16):
            logits = run.net(x).float()
        y = split.labels[index]
        loss_sum += functional.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(dim=1) == y).sum()
    n = int(split.labels.shape[0])
    return float(loss_sum) / n, float(correct) / n


class Reporter:
    """Stamps records with the trial's identity and sends them to every sink."""

    def __init__(self, spec: TrialSpec, sinks: list[RecordSink]) -> None:
        self.spec = spec
        self.sinks = sinks
        self.digest = compute_trial_digest(spec.trial_id, spec.theta, spec.seed, spec.protocol.epochs)

    def common(self, epoch: int) -> dict[str, Any]:
        return {
            "search": self.spec.search,
            "trial_id": self.spec.trial_id,
            "attempt": self.spec.attempt,
            "epoch": epoch,
            "time": time.time(),
            "trial_digest": self.digest,
        }

    def emit(self, record: EpochRecord | FinalRecord) -> None:
        for sink in self.sinks:
            sink.emit(record)

    def close(self, timeout: float) -> bool:
        return all([sink.close(timeout) for sink in self.sinks])


def _train(run: _Run, reporter: Reporter) -> FinalRecord:
    protocol = run.protocol
    train = _DeviceData.of(run.data.train, run.device)
    validation = _DeviceData.of(run.data.validation, run.device)
    rules = run.regularisation
    _log(
        f"{run.spec.trial_id}: {run.arch.node_count} operations, {run.size.params:,} params, "
        f"batch {run.batch_size}, lr {run.learning_rate:.4f}, {len(run.data.train)} training images on {run.device}; "
        f"cutout {rules.cutout}, drop-path {rules.drop_path:.3g}, auxiliary {rules.auxiliary_weight:g}, "
        f"clip {protocol.grad_clip}"
    )
    for epoch in range(run.epochs_done + 1, protocol.epochs + 1):
        run.net.set_drop_path(run.regularisation.drop_path * (epoch - 1) / protocol.epochs)
        started = time.perf_counter()
        learning_rate = run.optimizer.param_groups[0]["lr"]
        train_loss, train_accuracy, seen = _train_epoch(run, train)
        trained = time.perf_counter() - started
        run.scheduler.step()
        recompute_batch_norm(run, train)
        val_loss, val_accuracy = evaluate(run, validation)
        elapsed = time.perf_counter() - started
        run.epochs_done, run.last_val_accuracy, run.last_val_loss = epoch, val_accuracy, val_loss
        run.train_losses.append(train_loss)
        run.best_val_accuracy = max(run.best_val_accuracy, val_accuracy)
        run.train_seconds += elapsed
        record = EpochRecord(
            **reporter.common(epoch),
            epochs=protocol.epochs,
            train_loss=train_loss,
            train_accuracy=train_accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            learning_rate=float(learning_rate),
            batch_size=run.batch_size,
            epoch_seconds=elapsed,
            images_per_second=seen / max(trained, 1e-9),
        )
        reporter.emit(record)
        _log(
            f"epoch {epoch}/{protocol.epochs}: loss {train_loss:.4f}, train acc {train_accuracy:.4f}, "
            f"val acc {val_accuracy:.4f} ({elapsed:.1f} s, {record.images_per_second:.0f} img/s)"
        )
        if run.spec.checkpoint is not None:
            save_checkpoint(run.spec.checkpoint, run.state())
    check_convergence(run.train_losses, run.last_val_loss, run.steps, run.data.num_classes)
    test_accuracy = None
    if run.data.test is not None:
        test_accuracy = evaluate(run, _DeviceData.of(run.data.test, run.device))[1]
    size = run.size
    return FinalRecord(
        **reporter.common(run.epochs_done),
        status="succeeded",
        exit_code=ExitCode.OK,
        fingerprint=run.arch.fingerprint(),
        params=size.params,
        macs=size.macs,
        nodes=size.nodes,
        activation_bytes_per_image=size.activation_bytes_per_image,
        measured_memory_per_image=run.measured_memory,
        best_val_accuracy=run.best_val_accuracy,
        final_val_accuracy=run.last_val_accuracy,
        test_accuracy=test_accuracy,
        batch_size=run.batch_size,
        learning_rate=run.learning_rate,
        device=str(run.device),
        train_seconds=run.train_seconds,
        compiled=run.compiled,
        compile_seconds=run.compile_seconds,
    )


def check_convergence(train_losses: list[float], val_loss: float, steps: int, num_classes: int) -> None:
    """Raise TrainingDivergedError when a finished run did not train (docs/trainer.md, "Divergence"): a
    non-finite or exploding final validation loss (over 100 × ln C), or a training loss of at least
    0.98 × ln C, the loss of a uniform guess, in every epoch of a run of at least 100 steps."""
    chance = math.log(num_classes)
    if not math.isfinite(val_loss) or val_loss > EXPLODED_LOSS_FACTOR * chance:
        raise TrainingDivergedError(
            f"the validation loss exploded to {val_loss:.3g} (chance is {chance:.3g}); lower the learning rate"
        )
    if steps >= STUCK_MIN_STEPS and train_losses and min(train_losses) >= STUCK_LOSS_SHARE * chance:
        raise TrainingDivergedError(
            f"the training loss never went below chance: {min(train_losses):.3g} or more in all {len(train_losses)} "
            f"epochs ({steps} steps; chance is {chance:.3g}); lower the learning rate or check the data"
        )


def run_trial(spec: TrialSpec, sinks: list[RecordSink], flush_timeout: float = 30.0) -> ExitCode:
    """Train the trial, report every record, and return how it ended."""
    reporter = Reporter(spec, sinks)
    code = ExitCode.OK
    try:
        final = _train(_prepare(spec), reporter)
    except InvalidInputError as error:
        code, message = ExitCode.BAD_INPUT, str(error)
    except TrainingDivergedError as error:
        code, message = ExitCode.DIVERGED, f"diverged: {error}"
    except torch.cuda.OutOfMemoryError as error:
        code, message = ExitCode.OUT_OF_MEMORY, f"out of memory: {str(error).splitlines()[0]}"
    except Exception as error:  # any other failure is reported, then exits 1
        _log(traceback.format_exc())
        code, message = ExitCode.RUNTIME_FAILURE, f"{type(error).__name__}: {error}"
    if code is not ExitCode.OK:
        _log(f"nago train: error: {message}")
        final = FinalRecord(**reporter.common(0), status="failed", exit_code=code, error=message)
    reporter.emit(final)
    delivered = reporter.close(flush_timeout)
    if not delivered:
        _log("nago train: error: the final record could not be delivered to every sink")
        if code is ExitCode.OK:
            code = ExitCode.REPORT_UNDELIVERED
    return code
