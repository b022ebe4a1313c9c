"""The `nago` command line: sample, describe and draw architectures, study the spaces, train a trial, run and
report a search. Only `nago train` (and a search whose strategy needs a torch proposer) loads torch.

Every command that takes a Θ accepts it inline (`--theta '{"top_nodes": 6, ...}'`), from a file
(`--theta-file theta.json`), or drawn at random from the space (`--random --theta-seed N`).
Bad input exits with code 2 and one line naming the field; see `nago.exit_codes`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from nago import __version__
from nago.atomic import check_writable, write_text_atomically
from nago.errors import InvalidInputError, SourceUnavailableError
from nago.exit_codes import ExitCode
from nago.generator.architecture import Architecture, parse_input_spec, read_architecture
from nago.generator.sampling import DEFAULT_HEAD_CHANNELS, DEFAULT_PARAM_BUDGET, sample_architecture
from nago.generator.spaces import SearchSpace, SpaceName, get_space
from nago.generator.summary import format_summary, summarise_architecture
from nago.safe_yaml import load_yaml_documents, read_text_file
from nago.trial.sinks import JsonlFileSink, RecordSink, RedisStreamSink, StdoutSink
from nago.trial.spec import TrialSpec

EPILOG = "Exit codes: 0 success, 1 failure at run time, 2 bad input (the message names the field)."


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit with our BAD_INPUT code and one line, and options are spelled
    out (no abbreviations: every flag given is known by its name, see `find_given_options`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(ExitCode.BAD_INPUT, f"{self.prog}: error: {message}\n")


# Options that only shape an architecture drawn from Θ: an --arch file fixes all of them.
ARCH_FIXES = ("space", "ranges", "theta_seed", "param_budget", "head_channels", "input", "classes")
# What a trainer takes from a --trial/--trial-json file; besides it only where records go applies.
TRIAL_FILE_SETS_ALL_BUT = ("trial", "trial_json", "jsonl", "redis_url", "flush_timeout")


def find_given_options(parser: argparse.ArgumentParser, command: str, argv: Sequence[str]) -> dict[str, str]:
    """The options written on the command line (not those left at their defaults): destination → the
    option's name, as the parser spells it."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    given = {}
    for token in argv:
        if token == "--":
            break
        action = sub._option_string_actions.get(token.split("=", 1)[0]) if token.startswith("-") else None
        if action is not None and action.dest != "help":
            given[action.dest] = action.option_strings[-1]
    return given


def refuse_options_that_do_not_apply(command: str, given: dict[str, str]) -> None:
    """A flag that would be ignored is bad input: the user meant something by it."""

    def refuse(dest: str, why: str) -> None:
        raise InvalidInputError(given[dest], f"does not apply {why}")

    if command == "train" and (source := given.get("trial") or given.get("trial_json")):
        for dest in sorted(given.keys() - set(TRIAL_FILE_SETS_ALL_BUT)):
            refuse(dest, f"with {source}: the trial file sets it")
    if "arch" in given:
        for dest in sorted(given.keys() & {*ARCH_FIXES, *(() if command == "train" else ("seed",))}):
            refuse(dest, "with --arch: the architecture file fixes it")
    if "theta_seed" in given and "random" not in given:
        refuse("theta_seed", "without --random (it seeds the uniform draw of Θ)")
    if command == "train":
        for dest in sorted(given.keys() & {"input", "classes"}):
            refuse(dest, "to nago train: the dataset sets the input size and the classes")


def _add_space_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--space",
        default="hnag",
        help=f"generator space: {', '.join(s.value for s in SpaceName)} (default hnag)",
    )
    parser.add_argument(
        "--range",
        dest="ranges",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="override one parameter's range, e.g. bottom_nodes=3:32 (repeatable)",
    )


def _add_arch_options(parser: argparse.ArgumentParser, allow_arch_file: bool) -> None:
    _add_space_options(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--theta", help='Θ as JSON, e.g. \'{"top_nodes": 6, "top_k": 4, ...}\'')
    source.add_argument("--theta-file", type=Path, help="Θ as a JSON file")
    source.add_argument("--random", action="store_true", help="draw Θ uniformly from the space (see --theta-seed)")
    if allow_arch_file:
        source.add_argument("--arch", type=Path, help="an architecture JSON written by 'nago sample'")
    parser.add_argument("--theta-seed", type=int, default=0, help="seed for --random (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the architecture drawn from G(Θ) (default 0)")
    parser.add_argument("--input", default="32x32x3", help="input HxWxC, square (default 32x32x3)")
    parser.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    parser.add_argument(
        "--param-budget",
        type=float,
        default=DEFAULT_PARAM_BUDGET,
        help=f"parameters the network should have; the width is fitted to it ({DEFAULT_PARAM_BUDGET:g})",
    )
    parser.add_argument(
        "--head-channels",
        type=int,
        default=DEFAULT_HEAD_CHANNELS,
        help=f"channels of the classifier's 1x1 conv (default {DEFAULT_HEAD_CHANNELS})",
    )


def parse_ranges(items: Sequence[str]) -> dict[str, tuple[float, float]]:
    ranges: dict[str, tuple[float, float]] = {}
    for item in items:
        name, _, bounds = item.partition("=")
        low, _, high = bounds.partition(":")
        try:
            bounds_given = (float(low), float(high))
        except ValueError:
            raise InvalidInputError(
                "--range", f"expected NAME=LOW:HIGH such as bottom_nodes=3:32, got {item!r}"
            ) from None
        if not all(math.isfinite(bound) for bound in bounds_given):
            raise InvalidInputError("--range", f"bounds must be finite numbers, got {item!r}")
        ranges[name.strip()] = bounds_given
    return ranges


def _space(args: argparse.Namespace) -> SearchSpace:
    return get_space(args.space, parse_ranges(args.ranges))


def _load_json(text: str, field: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            field, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except (ValueError, RecursionError) as error:  # e.g. an integer of thousands of digits, deep nesting
        raise InvalidInputError(field, f"not usable JSON: {str(error).splitlines()[0][:200]}") from None


def _theta(args: argparse.Namespace, space: SearchSpace) -> dict[str, object]:
    if args.random:
        if args.theta_seed < 0:
            raise InvalidInputError("--theta-seed", f"must be at least 0, got {args.theta_seed}")
        return dict(space.sample_theta(np.random.default_rng(args.theta_seed)))
    if args.theta is not None:
        value = _load_json(args.theta, "--theta")
    elif args.theta_file is not None:
        value = _load_json(read_text_file(args.theta_file, "--theta-file"), f"--theta-file {args.theta_file}")
    else:
        raise InvalidInputError(
            "theta", "give --theta JSON, --theta-file FILE, --random, or (describe/draw) --arch FILE"
        )
    if not isinstance(value, dict):
        raise InvalidInputError("theta", f"must be a JSON object of parameter names to numbers, got {value!r}")
    return value


def _architecture(args: argparse.Namespace) -> Architecture:
    if getattr(args, "arch", None) is not None:
        return read_architecture(args.arch)
    space = _space(args)
    spec = parse_input_spec(args.input, args.classes)
    return sample_architecture(space, _theta(args, space), args.seed, spec, args.param_budget, args.head_channels)


def _run_sample(args: argparse.Namespace) -> None:
    if args.output is not None:
        check_writable(args.output, "--output")
    arch = _architecture(args)
    if args.output is None:
        sys.stdout.write(arch.to_json())
        return
    write_text_atomically(args.output, arch.to_json())
    print(f"wrote {args.output} ({arch.node_count} operations, fingerprint {arch.fingerprint()[:16]})")


def _run_describe(args: argparse.Namespace) -> None:
    summary = summarise_architecture(_architecture(args))
    print(summary.model_dump_json(indent=2) if args.json else format_summary(summary))


def _run_draw(args: argparse.Namespace) -> None:
    from nago.generator.drawing import draw_architecture

    check_writable(args.output, "--output")
    path = draw_architecture(_architecture(args), args.output)
    print(f"wrote {path}")


def _run_ranges(args: argparse.Namespace) -> None:
    space = _space(args)
    print(f"{space.name.value}: {space.dims} generator hyperparameters")
    for p in space.params:
        print(f"  {p.name:<16} {p.kind.value:<5} [{p.low:g}, {p.high:g}]  {p.description}")


def _run_space_size(args: argparse.Namespace) -> None:
    from nago.generator.space_size import compute_darts_space_size, compute_hnag_space_size, format_scientific

    hnag = compute_hnag_space_size(args.max_op_nodes, args.max_cell_nodes, args.max_stage_nodes, args.num_ops)
    darts = compute_darts_space_size()
    print(
        f"T_HNAG  ≈ {format_scientific(hnag)}  (N_O={args.max_op_nodes}, N_C={args.max_cell_nodes}, "
        f"N_S={args.max_stage_nodes}, M={args.num_ops}; appendix A.1)"
    )
    print(f"T_DARTS = 8^14 ≈ {format_scientific(darts)}")
    if args.exact:
        print(f"T_HNAG  = {hnag}\nT_DARTS = {darts}")


def _run_space_stats(args: argparse.Namespace) -> None:
    from nago.generator.space_stats import collect_space_samples, summarise, write_space_stats

    if args.samples < 1:
        raise InvalidInputError("--samples", f"must be at least 1, got {args.samples}")
    samples = []
    for name in args.spaces:
        space = get_space(name)
        for label in args.inputs:
            spec = parse_input_spec(label, args.classes)
            samples += collect_space_samples(space, spec, args.samples, args.seed, args.param_budget)
    plot, rows, summary_path = write_space_stats(samples, args.output)
    for key, metrics in summarise(samples).items():
        memory = metrics["memory_mb"]
        nodes = metrics["nodes"]
        print(
            f"{key:<22} memory/image MB min {memory['min']:.1f} median {memory['median']:.1f}"
            f" max {memory['max']:.1f} · nodes {nodes['min']:.0f}..{nodes['max']:.0f}"
        )
    print(f"wrote {plot}, {rows}, {summary_path}")


def _trial_spec(args: argparse.Namespace) -> TrialSpec:
    """A TrialSpec from --trial FILE (JSON or YAML) or from the flags."""
    if args.trial_json is not None:
        try:
            document = json.loads(args.trial_json)
        except ValueError as error:
            raise InvalidInputError("--trial-json", f"is not valid JSON: {error}") from None
    elif args.trial is not None:
        documents = load_yaml_documents(read_text_file(args.trial, "--trial"), str(args.trial), "--trial")
        if len(documents) != 1:
            raise InvalidInputError("--trial", f"{args.trial} must hold exactly one document, found {len(documents)}")
        document = documents[0]
    else:
        space = _space(args)
        document = {
            "search": args.search,
            "trial_id": args.trial_id,
            "attempt": args.attempt,
            "space": space.name.value,
            "ranges": parse_ranges(args.ranges),
            "seed": args.seed,
            "param_budget": args.param_budget,
            "head_channels": args.head_channels,
            "device": args.device,
            "checkpoint": args.checkpoint,
            "dataset": {
                "kind": args.dataset,
                "path": args.data_dir,
                "train_limit": args.train_limit,
                "validation_fraction": args.validation_fraction,
            },
            "protocol": {
                "mode": args.protocol,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "learning_rate": args.lr,
                "augment": not args.no_augment,
                "compile": args.compile,
                **{
                    knob: getattr(args, knob)
                    for knob in ("cutout", "drop_path", "auxiliary_weight", "grad_clip")
                    if getattr(args, knob) is not None
                },
            },
        }
        if args.arch is not None:
            document["architecture"] = args.arch
        else:
            document["theta"] = _theta(args, space)
    try:
        return TrialSpec.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "trial"
        raise InvalidInputError(where, str(first["msg"])) from None


def _run_train(args: argparse.Namespace) -> None:
    spec = _trial_spec(args)
    sinks: list[RecordSink] = [StdoutSink()]
    if args.jsonl is not None:
        check_writable(args.jsonl, "--jsonl")
        sinks.append(JsonlFileSink(args.jsonl))
    redis_url = args.redis_url or os.environ.get("NAGO_REDIS_URL")
    if redis_url:
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidInputError(
                "--redis-url", f"expected redis://host:port/db, rediss:// or unix://, got {redis_url!r}"
            )
        password = os.environ.get("NAGO_REDIS_PASSWORD")
        if not password:
            raise InvalidInputError("NAGO_REDIS_PASSWORD", "must be set in the environment when Redis is used")
        sinks.append(RedisStreamSink(redis_url, password, spec.search))
    from nago.training.trainer import run_trial  # torch: loaded only by the command that trains

    raise SystemExit(run_trial(spec, sinks, args.flush_timeout))


def _run_search(args: argparse.Namespace) -> None:
    from nago.search.local_runner import LocalRunner
    from nago.search.report import describe_final, write_results
    from nago.search.spec import list_spec_warnings, load_search
    from nago.search.state_folder import check_against_folder, claim_state_folder

    search = load_search(args.manifest)
    for warning in list_spec_warnings(search.spec):
        print(f"nago search: {warning}", file=sys.stderr)
    state_dir = args.state_dir or Path("nago-runs") / search.metadata.name
    redis_url = args.redis_url or os.environ.get("NAGO_REDIS_URL")
    runner = LocalRunner(search, state_dir, poll_seconds=args.poll_seconds, redis_url=redis_url)
    lock = claim_state_folder(state_dir)
    try:
        check_against_folder(search, state_dir)  # before anything of this run is written
        write_text_atomically(state_dir / "search.json", search.model_dump_json(by_alias=True, indent=1))
        ledger = runner.run()
        report = write_results(search, ledger, state_dir / "results")
    finally:
        lock.release()
    if (final := describe_final(ledger)) is not None:
        print(final)
    print(f"{ledger.phase.value}: report in {report}")
    if ledger.phase.value == "Failed":
        raise SystemExit(ExitCode.RUNTIME_FAILURE)


def _run_report(args: argparse.Namespace) -> None:
    from nago.search.report import write_results
    from nago.search.state_folder import read_ledger, read_stored_search

    if (args.state_dir is None) == (args.from_cluster is None):
        raise InvalidInputError("state_dir", "give a state folder or --from-cluster [NAMESPACE/]NAME (one of them)")
    if args.from_cluster is not None:
        search, ledger = _fetch_from_cluster(args.from_cluster, args.kubeconfig)
        output = args.output or Path(f"results-{search.metadata.namespace}-{search.metadata.name}")
        print(f"wrote {write_results(search, ledger, output)}")
        return
    if args.kubeconfig is not None:
        raise InvalidInputError("--kubeconfig", "applies only with --from-cluster")
    stored = read_stored_search(args.state_dir)
    if stored is None:
        raise InvalidInputError("state_dir", f"{args.state_dir} is not a search's state folder: no search.json")
    stored_ledger = read_ledger(args.state_dir, stored.metadata.name)
    if stored_ledger is None:
        raise InvalidInputError("state_dir", f"{args.state_dir} is not a search's state folder: no ledger.json")
    print(f"wrote {write_results(stored, stored_ledger, args.output or args.state_dir / 'results')}")


def _fetch_from_cluster(reference: str, kubeconfig: Path | None) -> tuple[Any, Any]:
    """The search and its ledger from a cluster, through the `nago.report_sources` entry point the operator
    package provides (the library itself imports no Kubernetes code, docs/design.md §2.2)."""
    from importlib.metadata import entry_points

    sources = [e for e in entry_points(group="nago.report_sources") if e.name == "cluster"]
    try:
        fetch = sources[0].load() if sources else None
    except ImportError as error:
        fetch, missing = None, error.name
    else:
        missing = None
    if fetch is None:
        detail = f" ({missing} is missing)" if missing else ""
        raise InvalidInputError("--from-cluster", f"needs the operator's extra{detail}: pip install 'nago[operator]'")
    search, ledger = fetch(reference, kubeconfig)
    return search, ledger


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nago",
        description=(
            "Neural Architecture Generator Optimization. A generator G(Θ) turns 8 hyperparameters Θ "
            "and a seed into a whole network; these commands sample, describe and draw such networks."
        ),
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"nago {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sample = sub.add_parser("sample", help="sample an architecture from G(Θ) and print or save its JSON", epilog=EPILOG)
    _add_arch_options(sample, allow_arch_file=False)
    sample.add_argument("-o", "--output", type=Path, help="write the JSON here instead of stdout")
    sample.set_defaults(run=_run_sample)

    desc = sub.add_parser("describe", help="print an architecture's size: params, MACs, memory, nodes", epilog=EPILOG)
    _add_arch_options(desc, allow_arch_file=True)
    desc.add_argument("--json", action="store_true", help="print JSON instead of text")
    desc.set_defaults(run=_run_describe)

    draw = sub.add_parser("draw", help="draw an architecture's three levels to PNG or SVG", epilog=EPILOG)
    _add_arch_options(draw, allow_arch_file=True)
    draw.add_argument("-o", "--output", type=Path, required=True, help="output file, .png or .svg")
    draw.set_defaults(run=_run_draw)

    ranges = sub.add_parser("ranges", help="list a space's hyperparameters and their ranges", epilog=EPILOG)
    _add_space_options(ranges)
    ranges.set_defaults(run=_run_ranges)

    size = sub.add_parser("space-size", help="count the HNAG and DARTS search spaces (appendix A.1)", epilog=EPILOG)
    size.add_argument("--max-op-nodes", type=int, default=10, help="N_O (default 10)")
    size.add_argument("--max-cell-nodes", type=int, default=10, help="N_C (default 10)")
    size.add_argument("--max-stage-nodes", type=int, default=10, help="N_S (default 10)")
    size.add_argument("--num-ops", type=int, default=5, help="M, operations per node (default 5)")
    size.add_argument("--exact", action="store_true", help="also print the exact integers")
    size.set_defaults(run=_run_space_size)

    train = sub.add_parser(
        "train",
        help="train one trial on real data and report metric records (JSON lines, file, Redis)",
        description=(
            "Train one architecture (from Θ and a seed, or --arch) and report one record per epoch and a "
            "final record: JSON lines on stdout always, --jsonl FILE, and the Redis stream of the search "
            "when --redis-url (or NAGO_REDIS_URL) is set, with the password in NAGO_REDIS_PASSWORD."
        ),
        epilog="Exit codes: 0 success, 1 failure at run time, 2 bad input, 3 out of memory, "
        "4 final record not delivered, 5 training diverged.",
    )
    _add_arch_options(train, allow_arch_file=True)
    train.add_argument("--trial", type=Path, help="the whole trial as a JSON or YAML file (instead of the flags)")
    train.add_argument("--trial-json", help="the whole trial as JSON text (trial pods get it this way)")
    train.add_argument("--search", default="local", help="search name the records carry (default local)")
    train.add_argument("--trial-id", default="trial-0", help="trial id the records carry (default trial-0)")
    train.add_argument("--attempt", type=int, default=0, help="attempt number the records carry (default 0)")
    train.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist, cifar10, cifar100 or image-folder")
    train.add_argument("--data-dir", type=Path, help="dataset folder (Fashion-MNIST defaults to Debian's)")
    train.add_argument("--train-limit", type=int, help="use only this many training images")
    train.add_argument("--validation-fraction", type=float, default=0.1, help="held-out share (default 0.1)")
    train.add_argument(
        "--protocol",
        default="search",
        help="search (no regularisation) or final (clipping 5, and cutout, drop-path and auxiliary head scaled "
        "to the budget; docs/trainer.md) (default search)",
    )
    train.add_argument("--epochs", type=int, default=1, help="epochs to train (default 1)")
    train.add_argument(
        "--batch-size", type=int, help="batch size (default: 96 on CPU; on CUDA the largest that fits, at most 512)"
    )
    train.add_argument(
        "--lr", type=float, help="learning rate (default: linear in the batch, 0.025 at batch 96 to 0.1 at 512)"
    )
    train.add_argument("--no-augment", action="store_true", help="no random crop and flip")
    train.add_argument(
        "--cutout",
        type=int,
        help="cutout side in pixels (default: 0 for search; final: side/2 × min(1, epochs/600), so 16 on 32×32 "
        "at 600 epochs)",
    )
    train.add_argument(
        "--drop-path",
        type=float,
        help="final drop-path probability (default: 0 for search; final: 0.2 × min(1, epochs/600) from 100 epochs)",
    )
    train.add_argument(
        "--auxiliary-weight",
        type=float,
        help="auxiliary head's loss weight (default: 0 for search; final: 0.4 from 100 epochs on)",
    )
    train.add_argument("--grad-clip", type=float, help="max gradient norm (default: none for search, 5 for final)")
    train.add_argument(
        "--compile",
        default="auto",
        help="torch.compile the training step: auto (when the trial's steps pay back the compile time), "
        "always or never (default auto)",
    )
    train.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    train.add_argument("--checkpoint", type=Path, help="checkpoint file: written every epoch, resumed from")
    train.add_argument("--jsonl", type=Path, help="also append the records to this file")
    train.add_argument("--redis-url", help="redis://host:port/db of the metrics stream (or NAGO_REDIS_URL)")
    train.add_argument("--flush-timeout", type=float, default=30.0, help="seconds to deliver the last records")
    train.set_defaults(run=_run_train)

    search = sub.add_parser(
        "search", help="run a GeneratorSearch manifest on this machine (resumes where it stopped)", epilog=EPILOG
    )
    search.add_argument("manifest", type=Path, help="GeneratorSearch YAML or JSON (the same as for kubectl apply)")
    search.add_argument("--state-dir", type=Path, help="ledger, trials and results (default nago-runs/NAME)")
    search.add_argument("--poll-seconds", type=float, default=0.5, help="how often trials are checked (default 0.5)")
    search.add_argument(
        "--redis-url", help="collect metrics from this Redis (or NAGO_REDIS_URL; password in NAGO_REDIS_PASSWORD)"
    )
    search.set_defaults(run=_run_search)

    report = sub.add_parser(
        "report", help="rebuild a search's results and report from its state folder or from the cluster"
    )
    report.add_argument(
        "state_dir", type=Path, nargs="?", help="the search's state folder (holds search.json, ledger.json)"
    )
    report.add_argument(
        "--from-cluster", metavar="[NAMESPACE/]NAME",
        help="read the GeneratorSearch and its ledger from the cluster of the kubeconfig's current context "
        "(NAMESPACE/NAME, gs/NAME or NAME: the context's namespace)",
    )  # fmt: skip
    report.add_argument("--kubeconfig", type=Path, help="with --from-cluster: this kubeconfig (default $KUBECONFIG)")
    report.add_argument(
        "-o", "--output", type=Path,
        help="results folder (default STATE_DIR/results; from a cluster results-NAMESPACE-NAME)",
    )  # fmt: skip
    report.set_defaults(run=_run_report)

    stats = sub.add_parser(
        "space-stats", help="histogram memory, params and nodes of many samples (appendix F)", epilog=EPILOG
    )
    stats.add_argument("--spaces", nargs="+", default=["hnag", "rnag"], help="spaces (default hnag rnag)")
    stats.add_argument("--inputs", nargs="+", default=["32x32x3", "224x224x3"], help="input sizes")
    stats.add_argument("--samples", type=int, default=300, help="samples per space and input (default 300)")
    stats.add_argument("--seed", type=int, default=0, help="seed of the whole study (default 0)")
    stats.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    stats.add_argument("--param-budget", type=float, default=DEFAULT_PARAM_BUDGET, help="parameter budget")
    stats.add_argument("-o", "--output", type=Path, default=Path("out/space-stats"), help="output folder")
    stats.set_defaults(run=_run_space_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)  # from BoTorch
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as done:  # usage errors (exit 2, one line) and --help
        return int(done.code or 0)
    try:
        refuse_options_that_do_not_apply(args.command, find_given_options(parser, args.command, arguments))
        args.run(args)
    except SystemExit as done:
        return int(done.code or 0)
    except InvalidInputError as error:
        print(f"nago {args.command}: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except SourceUnavailableError as error:
        print(f"nago {args.command}: error: {error}", file=sys.stderr)
        return ExitCode.RUNTIME_FAILURE
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
