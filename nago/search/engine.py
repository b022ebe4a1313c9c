"""The search engine: a pure step from (spec, ledger, events, now) to (ledger, actions) (docs/design.md §2.5).

No clocks, processes or Kubernetes inside: the local runner and the operator feed it what happened
(a trial started, a final record arrived, a process exited with a code, time passed) and carry out
what it returns (launch a trial attempt, cancel one, the search finished). Rules:

- Algorithm 1: synchronous mode proposes the next batch of B only when the previous batch is done;
  asynchronous mode proposes as soon as a slot is free, penalising the running configurations
  (Alvi et al. 2019). BOHB hands out rungs and promotions as slots free (appendix C.1).
- Exit codes (docs/trainer.md): 2 (bad input), 3 (out of memory) and 5 (diverged) fail at once; others are
  retried up to `maxRetries`, then fail. A process that exited 0 without a final record fails as
  MetricsMissing after `metricsTimeoutSeconds`.
- More than `maxFailedTrials` failures end the search as Failed (reason TooManyFailedTrials).
- A search whose trials have all ended without one success ends as Failed (reason NoSuccessfulTrial),
  not Succeeded with no best.
- An attempt lost through no fault of its own (TrialLost) is launched again, not counted as a retry.
- `suspend` stops the running attempts; they are launched again (not counted as retries) on resume.
- After `maxTrials` search trials, Algorithm 1 line 10 (appendix G): `final.architectures` networks
  are sampled from Θ* (MOBO: from each of `final.paretoPoints` points spread over the front) and
  trained with the final protocol. Raising `maxTrials` after the end continues the search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nago.bo.proposer import Outcome, Proposer
from nago.bo.registry import ProposerSettings, build_proposer
from nago.exit_codes import ExitCode
from nago.search.ledger import CONDITION_PHASES, Ledger, SearchPhase, TrialEntry, TrialPurpose, TrialResult, TrialState
from nago.search.selection import find_pareto_front, spread_over
from nago.search.spec import BatchMode, GeneratorSearchSpec, MoboSurrogate, StrategyKind
from nago.trial.records import FinalRecord

SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class TrialStarted:
    trial_id: str
    attempt: int
    at: float


@dataclass(frozen=True)
class RecordReceived:
    record: FinalRecord
    at: float


@dataclass(frozen=True)
class TrialExited:
    trial_id: str
    attempt: int
    exit_code: int
    at: float
    message: str | None = None


@dataclass(frozen=True)
class TrialLost:
    """The attempt vanished through no fault of its own (the runner restarted, a node went away)."""

    trial_id: str
    attempt: int
    at: float


Event = TrialStarted | RecordReceived | TrialExited | TrialLost


@dataclass(frozen=True)
class LaunchTrial:
    trial: TrialEntry


@dataclass(frozen=True)
class CancelTrial:
    trial_id: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class SearchFinished:
    phase: SearchPhase
    reason: str | None


Action = LaunchTrial | CancelTrial | SearchFinished


@dataclass
class Step:
    ledger: Ledger
    actions: list[Action] = field(default_factory=list)


def format_trial_id(search: str, purpose: TrialPurpose, index: int) -> str:
    """Deterministic ids: the Job names on Kubernetes derive from them."""
    return f"{search}-{index:04d}" if purpose is TrialPurpose.SEARCH else f"{search}-final-{index:03d}"


def derive_seed(strategy_seed: int, purpose: TrialPurpose, index: int) -> int:
    offset = 0 if purpose is TrialPurpose.SEARCH else 500_000
    return (strategy_seed * SEED_STRIDE + offset + index) % 2**31


def build_search_proposer(spec: GeneratorSearchSpec, state: Mapping[str, Any] | None) -> Proposer:
    """The search's proposer, continued from its saved state; rebuilt on every engine step (docs/design.md §2.4)."""
    strategy = spec.strategy
    settings = ProposerSettings(
        seed=strategy.seed,
        initial_points=strategy.initial_points,
        budgets=strategy.bohb.budgets,
        eta=strategy.bohb.eta,
        surrogate=(strategy.surrogate or MoboSurrogate.BNN).value,
    )
    proposer = build_proposer(strategy.kind.value, spec.space.build(), settings)
    if state is not None:
        proposer.restore(state)
    return proposer


class _Engine:
    def __init__(self, spec: GeneratorSearchSpec, ledger: Ledger, now: float) -> None:
        self.spec = spec
        self.ledger = ledger
        self.now = now
        self.actions: list[Action] = []
        self.proposer = build_search_proposer(spec, ledger.proposer_state)

    # ---- events ---------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        trial_id = event.record.trial_id if isinstance(event, RecordReceived) else event.trial_id
        attempt = event.record.attempt if isinstance(event, RecordReceived) else event.attempt
        trial = self.ledger.get(trial_id)
        if trial is None or trial.attempt != attempt or trial.done:
            return  # stale: an earlier attempt, an unknown trial, or already settled
        if isinstance(event, TrialStarted):
            trial.state, trial.started_at = TrialState.RUNNING, event.at
        elif isinstance(event, TrialLost):
            self._relaunch_later(trial, "Lost", "the attempt was lost; launched again (not counted as a retry)")
        elif isinstance(event, RecordReceived):
            record = event.record
            expected = trial.digest()
            if record.trial_digest != expected:  # a stale or foreign record: not this entry's Θ, seed or budget
                self.actions.append(CancelTrial(trial.trial_id, trial.attempt, "ForeignRecord"))
                self._retry_or_fail(  # a retry: a trainer that always reports another digest must not loop
                    trial, "ForeignRecord",
                    f"a record for attempt {attempt} was made for another Θ, seed or budget "
                    f"(digest {record.trial_digest}, expected {expected}); ignored",
                )  # fmt: skip
            elif record.status == "succeeded":
                self._succeed(trial, TrialResult.from_record(record))
            else:
                self._exit(trial, record.exit_code or int(ExitCode.RUNTIME_FAILURE), record.error)
        elif event.exit_code == 0:
            trial.exit_code = 0
            trial.exited_at = trial.exited_at if trial.exited_at is not None else event.at
        else:
            self._exit(trial, event.exit_code, event.message)

    def _succeed(self, trial: TrialEntry, result: TrialResult) -> None:
        trial.state, trial.result, trial.finished_at = TrialState.SUCCEEDED, result, self.now
        trial.reason, trial.message, trial.exit_code = None, None, 0

    def _fail(self, trial: TrialEntry, reason: str, message: str | None) -> None:
        trial.state, trial.reason, trial.message, trial.finished_at = TrialState.FAILED, reason, message, self.now

    def _exit(self, trial: TrialEntry, code: int, message: str | None) -> None:
        """A failed attempt: fail at once on bad input, OOM or divergence, else retry while retries are left."""
        trial.exit_code = code
        if code == ExitCode.BAD_INPUT:
            self._fail(trial, "BadInput", message)
        elif code == ExitCode.OUT_OF_MEMORY:
            self._fail(trial, "OutOfMemory", message)
        elif code == ExitCode.DIVERGED:
            self._fail(trial, "Diverged", message)  # the same seed and settings diverge again: no retry
        else:
            self._retry_or_fail(trial, "RunTimeError" if code != ExitCode.REPORT_UNDELIVERED else "ReportUndelivered",
                                message or f"exit code {code}")  # fmt: skip

    def _retry_or_fail(self, trial: TrialEntry, reason: str, message: str) -> None:
        if trial.retries < self.spec.budget.max_retries:
            trial.retries += 1
            self._relaunch_later(trial, reason, message)
        else:
            self._fail(trial, reason, f"{message}; no retries left ({self.spec.budget.max_retries})")

    def _relaunch_later(self, trial: TrialEntry, reason: str, message: str) -> None:
        trial.attempt += 1
        trial.state, trial.reason, trial.message = TrialState.PENDING, reason, message
        trial.launched_at, trial.started_at, trial.exited_at, trial.exit_code = None, None, None, None

    # ---- time -----------------------------------------------------------------------------------

    def check_clocks(self) -> None:
        budget = self.spec.budget
        for trial in self.ledger.active():
            if trial.exited_at is not None and self.now - trial.exited_at >= budget.metrics_timeout_seconds:
                self._fail(
                    trial,
                    "MetricsMissing",
                    f"exited 0 but no final record came in {budget.metrics_timeout_seconds:g} s",
                )
            elif (
                budget.trial_timeout_seconds is not None
                and trial.state is TrialState.RUNNING
                and trial.exited_at is None
                and trial.launched_at is not None
                and self.now - (trial.started_at or trial.launched_at) >= budget.trial_timeout_seconds
            ):
                self.actions.append(CancelTrial(trial.trial_id, trial.attempt, "DeadlineExceeded"))
                self._retry_or_fail(trial, "DeadlineExceeded", f"ran longer than {budget.trial_timeout_seconds:g} s")

    # ---- the proposer ---------------------------------------------------------------------------

    def tell_results(self) -> None:
        told = set(self.ledger.told)
        for trial in self.ledger.of(TrialPurpose.SEARCH):
            if trial.trial_id in told or not trial.done:
                continue
            result = trial.result if trial.state is TrialState.SUCCEEDED else None
            self.proposer.tell(Outcome(
                trial.theta, result.accuracy if result else None, result.memory if result else None,
                budget=trial.budget, job=trial.job,
            ))  # fmt: skip
            self.ledger.told.append(trial.trial_id)

    def propose(self, n: int) -> None:
        search = self.ledger.of(TrialPurpose.SEARCH)
        busy = [t.theta for t in search if not t.done or t.state is TrialState.FAILED]
        for proposal in self.proposer.ask(n, busy):
            index = len(search)
            search.append(TrialEntry(
                trial_id=format_trial_id(self.ledger.search, TrialPurpose.SEARCH, index), index=index,
                theta=dict(proposal.theta), seed=derive_seed(self.spec.strategy.seed, TrialPurpose.SEARCH, index),
                budget=self.spec.budget.epochs if proposal.budget is None else int(proposal.budget), job=proposal.job,
            ))  # fmt: skip
            self.ledger.trials.append(search[-1])
        self.ledger.proposer_state = self.proposer.state()

    # ---- the schedule ---------------------------------------------------------------------------

    def running(self) -> list[TrialEntry]:
        return [t for t in self.ledger.trials if t.state is TrialState.RUNNING]

    def launch_pending(self) -> None:
        free = self.spec.budget.parallelism - len(self.running())
        for trial in [t for t in self.ledger.trials if t.state is TrialState.PENDING][: max(free, 0)]:
            trial.state, trial.launched_at = TrialState.RUNNING, self.now
            self.actions.append(LaunchTrial(trial.model_copy(deep=True)))

    def cancel_running(self, reason: str) -> list[TrialEntry]:
        stopped = self.running()
        for trial in stopped:
            self.actions.append(CancelTrial(trial.trial_id, trial.attempt, reason))
        return stopped

    def finish(self, phase: SearchPhase, reason: str | None, message: str | None) -> None:
        self.ledger.phase, self.ledger.reason, self.ledger.message = phase, reason, message
        self.ledger.completed_at = self.now
        self.actions.append(SearchFinished(phase, reason))

    def schedule_search(self) -> None:
        budget, strategy = self.spec.budget, self.spec.strategy
        search = self.ledger.of(TrialPurpose.SEARCH)
        left = budget.max_trials - len(search)
        in_flight = [t for t in search if not t.done]
        if left > 0:
            if strategy.kind is StrategyKind.BOHB or strategy.mode is BatchMode.ASYNC:
                wanted = min(left, budget.parallelism - len(in_flight))
            else:  # Algorithm 1: the next batch once the previous one is done
                wanted = min(left, strategy.batch_size) if not in_flight else 0
            if wanted > 0:
                self.propose(wanted)
        self.launch_pending()

    def chosen_thetas(self) -> list[dict[str, int | float]]:
        """Θ* (Algorithm 1, line 10); for MOBO, points spread over the Pareto front by memory."""
        if self.spec.strategy.kind is not StrategyKind.MOBO:
            best = self.ledger.best()
            return [best.theta] if best else []
        return [t.theta for t in spread_over(find_pareto_front(self.ledger), self.spec.final.pareto_points)]

    def schedule_final(self) -> bool:
        """Start or continue the final evaluation; True when it is complete."""
        final = self.spec.final
        if final.architectures == 0:
            return True
        finals = self.ledger.of(TrialPurpose.FINAL)
        for group, theta in enumerate(self.chosen_thetas()):
            for _ in range(self.finals_missing(theta)):  # final.architectures may be raised later
                index = len(finals)
                finals.append(TrialEntry(
                    trial_id=format_trial_id(self.ledger.search, TrialPurpose.FINAL, index), index=index,
                    purpose=TrialPurpose.FINAL, theta=dict(theta), group=group, budget=final.epochs,
                    seed=derive_seed(self.spec.strategy.seed, TrialPurpose.FINAL, index),
                ))  # fmt: skip
                self.ledger.trials.append(finals[-1])
        self.launch_pending()
        return all(t.done for t in finals)

    def finals_missing(self, theta: dict[str, int | float]) -> int:
        """How many more final networks `theta` needs to have final.architectures of them."""
        have = sum(t.theta == theta for t in self.ledger.of(TrialPurpose.FINAL))
        return max(0, self.spec.final.architectures - have)

    def final_wants_more(self) -> bool:
        """final.architectures was raised after the final evaluation: more networks per chosen Θ."""
        return any(self.finals_missing(theta) > 0 for theta in self.chosen_thetas())

    def withdraw_beyond_max_trials(self) -> None:
        """A lowered maxTrials stops the search trials beyond it: those not done are cancelled and
        removed (they have no result; their ids are reused if maxTrials is raised again, and a stale
        record of theirs is refused by its digest). Done ones stay, with their results."""
        limit = self.spec.budget.max_trials
        for trial in [t for t in self.ledger.of(TrialPurpose.SEARCH) if t.index >= limit and not t.done]:
            if trial.state is TrialState.RUNNING:
                self.actions.append(CancelTrial(trial.trial_id, trial.attempt, "MaxTrialsLowered"))
            self.ledger.trials.remove(trial)

    def run(self) -> None:
        ledger, spec = self.ledger, self.spec
        if ledger.started_at is None:
            ledger.started_at = self.now
        if ledger.phase is SearchPhase.FAILED:
            return
        if ledger.phase is SearchPhase.SUCCEEDED:
            if len(ledger.of(TrialPurpose.SEARCH)) >= spec.budget.max_trials and not self.final_wants_more():
                return
            ledger.completed_at, ledger.reason, ledger.message = None, None, None  # the budget was raised
        self.withdraw_beyond_max_trials()
        if ledger.failed_count() > spec.budget.max_failed_trials:
            self.cancel_running("SearchFailed")
            for trial in ledger.active():
                self._fail(trial, "SearchFailed", "the search failed")
            limit = spec.budget.max_failed_trials
            self.finish(
                SearchPhase.FAILED,
                "TooManyFailedTrials",
                f"{ledger.failed_count()} trials failed; maxFailedTrials is {limit}",
            )
            return
        if spec.suspend:
            for trial in self.cancel_running("Suspended"):
                self._relaunch_later(trial, "Suspended", "stopped by spec.suspend")
            ledger.phase = SearchPhase.SUSPENDED
            return
        search = ledger.of(TrialPurpose.SEARCH)
        if len(search) < spec.budget.max_trials or any(not t.done for t in search):
            ledger.phase = SearchPhase.RUNNING
            self.schedule_search()
            return
        if not any(t.state is TrialState.SUCCEEDED for t in search):
            first = next((t for t in search if t.state is TrialState.FAILED), None)
            cause = f" (first failure: {first.reason}: {first.message})" if first is not None else ""
            self.finish(
                SearchPhase.FAILED, "NoSuccessfulTrial", f"none of the {len(search)} search trials succeeded{cause}"
            )
            return
        ledger.phase = SearchPhase.FINAL_EVALUATION
        if self.schedule_final():
            self.finish(SearchPhase.SUCCEEDED, "MaxTrialsReached", f"{len(search)} trials")


def reconcile(spec: GeneratorSearchSpec, ledger: Ledger, events: list[Event], now: float) -> Step:
    """Apply the events, check the clocks, then decide what runs next. The input ledger is not changed."""
    engine = _Engine(spec, ledger.model_copy(deep=True), now)
    for event in events:
        engine.apply(event)
    engine.check_clocks()
    engine.tell_results()
    engine.run()
    for kind, phases in CONDITION_PHASES.items():  # one transition time per condition, set when it flips
        if (ledger.phase in phases) != (engine.ledger.phase in phases):
            engine.ledger.condition_times[kind] = now
    return Step(engine.ledger, engine.actions)
