"""The operator end to end on the real control plane: searches run to Succeeded with trainers as pods, what
`kubectl get` and `kubectl describe` show, and the status agreeing with the durable ledger."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from control_plane import ApiClient, ControlPlane
from nago.search.ledger import Ledger, TrialPurpose, TrialState
from operator_harness import (
    OperatorProcess,
    apply_search,
    build_search,
    list_events,
    list_jobs,
    read_ledger,
    wait_for_phase,
)

pytestmark = pytest.mark.cluster


def test_a_random_search_runs_to_succeeded(
    control_plane: ControlPlane, kube: ApiClient, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    apply_search(kube, namespace, build_search("rand", {"kind": "random", "seed": 3}, max_trials=4))
    search = wait_for_phase(kube, namespace, "rand", ("Succeeded", "Failed"), operator)
    status = search["status"]
    assert status["phase"] == "Succeeded", status
    ledger = read_ledger(kube, namespace, "rand")
    trials = ledger.of(TrialPurpose.SEARCH)
    assert len(trials) == 4 and all(t.state is TrialState.SUCCEEDED and t.attempt == 0 for t in trials)
    best = ledger.best()
    assert best is not None and best.result is not None
    assert status["best"]["trial"] == best.trial_id and status["best"]["accuracy"] == best.result.accuracy
    assert status["progress"] == "4/4" and status["trials"]["succeeded"] == 4
    assert sorted(j["metadata"]["name"] for j in list_jobs(kube, namespace, "rand")) == [
        f"{t.trial_id}-a0" for t in trials
    ]
    table = control_plane.kubectl("get", "gs", "-n", namespace).stdout
    header, row = table.strip().splitlines()
    assert re.split(r"\s{2,}", header) == ["NAME", "PHASE", "STRATEGY", "DONE", "RUNNING", "FAILED", "BEST", "MEMORY",
                                           "TEST", "AGE"]  # fmt: skip
    cells = re.split(r"\s{2,}", row)
    assert cells[:6] == ["rand", "Succeeded", "random", "4/4", "0", "0"]
    assert len(cells) == 9 and cells[8].endswith("s")  # TEST is blank (no final evaluation here), then AGE
    assert float(cells[6]) == pytest.approx(best.result.accuracy, abs=1e-3) and cells[7].endswith("B")
    described = control_plane.kubectl("describe", "gs", "rand", "-n", namespace).stdout
    for reason in ("TrialLaunched", "TrialSucceeded", "SearchSucceeded"):
        assert reason in described
    reasons = [e["reason"] for e in list_events(kube, namespace, "rand")]
    assert reasons.count("TrialLaunched") == 4 and reasons.count("TrialSucceeded") == 4
    scraped = urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=10).read().decode()
    assert f'nago_trials{{namespace="{namespace}",search="rand",state="Succeeded"}} 4.0' in scraped
    assert "nago_reconcile_seconds_count" in scraped
    health = urllib.request.urlopen(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=10)
    assert health.status == 200 and '"searches": 1' in health.read().decode()
    _check_report_from_cluster(control_plane, namespace, ledger, tmp_path)


def _nago(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nago.cli", *arguments], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)  # fmt: skip


def _check_report_from_cluster(control_plane: ControlPlane, namespace: str, ledger: Ledger, folder: Path) -> None:
    """`nago report --from-cluster` writes the report from the GeneratorSearch and its ledger ConfigMap, and says
    in one line what is missing, forbidden or malformed."""
    kubeconfig = str(control_plane.kubeconfig)
    done = _nago("report", "--from-cluster", f"{namespace}/rand", "--kubeconfig", kubeconfig, cwd=folder)
    assert done.returncode == 0, done.stderr
    results = folder / f"results-{namespace}-rand"
    assert Ledger.model_validate_json((results / "ledger.json").read_text()) == ledger
    assert "rand" in (results / "report.md").read_text() and (results / "best-generator.json").exists()
    missing = _nago("report", "--from-cluster", f"{namespace}/nothing", "--kubeconfig", kubeconfig, cwd=folder)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
        f"nago report: error: generatorsearch {namespace}/nothing not found"
    ]
    outsider = control_plane.write_service_account_kubeconfig(namespace, "default", folder / "outsider.yaml")
    forbidden = _nago("report", "--from-cluster", f"{namespace}/rand", "--kubeconfig", str(outsider), cwd=folder)
    assert forbidden.returncode == 1 and len(forbidden.stderr.strip().splitlines()) == 1
    assert "Forbidden" in forbidden.stderr and "system:serviceaccount" in forbidden.stderr, forbidden.stderr
    malformed = _nago("report", "--from-cluster", "a/b/c", "--kubeconfig", kubeconfig, cwd=folder)
    assert malformed.returncode == 2 and "--from-cluster: expected NAMESPACE/NAME" in malformed.stderr


MODEL_BASED_SEARCHES = {
    "bo": ({"kind": "bo"}, {"final": {"architectures": 1}}),
    "mobo-gp": ({"kind": "mobo", "surrogate": "gp"}, {"objectives": ["accuracy", "memory"]}),
}


@pytest.mark.parametrize("name", sorted(MODEL_BASED_SEARCHES))
def test_a_model_based_search_runs_to_succeeded(
    kube: ApiClient, namespace: str, operator: OperatorProcess, name: str
) -> None:
    """GP-BO with hard local penalisation (and a final evaluation), MOBO with the GP surrogate."""
    kind, spec = MODEL_BASED_SEARCHES[name]
    strategy = {**kind, "mode": "async", "batchSize": 2, "seed": 0, "initialPoints": 2}
    apply_search(kube, namespace, build_search(name, strategy, max_trials=5, **spec))
    search = wait_for_phase(kube, namespace, name, ("Succeeded", "Failed"), operator, timeout=420)
    assert search["status"]["phase"] == "Succeeded", search["status"]
    ledger = read_ledger(kube, namespace, name)
    trials = ledger.of(TrialPurpose.SEARCH)
    assert len(trials) == 5 and all(t.state is TrialState.SUCCEEDED for t in trials)
    assert len({tuple(sorted(t.theta.items())) for t in trials}) == 5  # no configuration proposed twice
    state = ledger.proposer_state
    assert state is not None and state["proposed"] == 5  # 2 initial points, then 3 from the model
    if name == "mobo-gp":
        assert state["surrogate"] == "gp"
        return
    [final] = ledger.of(TrialPurpose.FINAL)
    best = ledger.best()
    assert best is not None and final.theta == best.theta and final.state is TrialState.SUCCEEDED
    assert search["status"]["finalTrials"]["succeeded"] == 1
