"""The cluster tier: one real control plane per test session (so one per xdist worker that runs cluster tests),
a fresh namespace per test, and the process logs attached to the report of any failing test. Each test module
here sets `pytestmark = pytest.mark.cluster`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane import ApiClient, ControlPlane, start_control_plane
from control_plane.waiting import wait_for
from crd_install import install_crd
from operator_harness import OperatorProcess
from redis_server import RedisServer


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]  # read by the operator fixture's teardown
    plane = getattr(item, "funcargs", {}).get("control_plane")
    if report.failed and isinstance(plane, ControlPlane):
        for name, tail in plane.read_logs().items():
            report.sections.append((f"control plane: {name}.log (last lines; all in {plane.log_directory})", tail))
        if plane.kubelet is not None and plane.kubelet.errors:
            report.sections.append(("process kubelet errors", "\n".join(plane.kubelet.errors[-20:])))
    return report


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager + process kubelet, up for the whole session."""
    plane = start_control_plane(log_directory=tmp_path_factory.mktemp("control-plane-logs"))
    yield plane
    plane.stop()


@pytest.fixture
def kube(control_plane: ControlPlane) -> ApiClient:
    """An administrator's API client."""
    return control_plane.admin_client()


@pytest.fixture
def namespace(kube: ApiClient) -> Iterator[str]:
    """A fresh namespace with its `default` ServiceAccount in place (pods need it to be admitted)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    account = f"/api/v1/namespaces/{name}/serviceaccounts/default"
    wait_for(f"ServiceAccount {name}/default", lambda: kube.exists(account), timeout=60)
    yield name
    kube.delete(f"/api/v1/namespaces/{name}", {"propagationPolicy": "Background"})


@pytest.fixture(scope="session")
def generator_search_crd(control_plane: ControlPlane) -> str:
    """The GeneratorSearch CRD generated from the models, applied and Established once per session."""
    from nago_operator.crd import build_crd

    return install_crd(control_plane.admin_client(), build_crd())


@pytest.fixture
def redis_for_operator(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    yield server
    server.stop(save=False)


@pytest.fixture
def operator(
    control_plane: ControlPlane,
    generator_search_crd: str,
    redis_for_operator: RedisServer,
    namespace: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[OperatorProcess]:
    """`python -m nago_operator` watching the test's namespace; its log is printed when the test fails."""
    process = OperatorProcess(control_plane, redis_for_operator, namespace, tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()
    searches = f"/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches"
    kube = control_plane.admin_client()
    for search in kube.get(searches)["items"]:  # let the namespace go without an operator to run finalizers
        kube.patch(f"{searches}/{search['metadata']['name']}", {"metadata": {"finalizers": None}})
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"---- operator log ----\n{process.read_log()[-8000:]}")
