"""The real-node tier: one control plane whose node is a real kubelet with containerd (control_plane/node.py),
pods as containers of the images `make images` builds. One per test session, and one session at a time per
machine (the node uses machine-wide names: its bridge, port 53 on the bridge, iptables chains): `make test`
runs this tier on its own, after the others, without xdist. Each test module here is marked `node`.

It needs root, the container tools (scripts/install-container-tools.sh), the control-plane binaries (`make
control-plane`) and the images (`make images`); without them the tier is skipped with the reason, unless
NAGO_REQUIRE_REAL_NODE=1 (as `make test` sets), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from control_plane import ApiClient, ControlPlane, find_binaries, start_control_plane
from control_plane.node import BRIDGE, CONTAINERS_CONF, NODE_IMAGES, list_mounts_under, read_kernel_settings


def find_missing_requirements() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root (a kubelet and containerd run as root)")
    missing += [f"{tool} (scripts/install-container-tools.sh)" for tool in ("containerd", "runc", "iptables", "podman")
                if shutil.which(tool) is None]  # fmt: skip
    missing += [f"{path} (make control-plane)" for path in find_binaries().missing()]
    if shutil.which("podman") is not None:
        env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
        for image in NODE_IMAGES:
            found = subprocess.run(["podman", "image", "exists", image], env=env, check=False)
            if found.returncode != 0:
                missing.append(f"image {image} (make images)")
    return missing


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    plane = getattr(item, "funcargs", {}).get("real_node_plane")
    if report.failed and isinstance(plane, ControlPlane):
        for name, tail in plane.read_logs().items():
            report.sections.append((f"real node: {name}.log (last lines; all in {plane.log_directory})", tail))
    return report


@pytest.fixture(scope="session")
def real_node_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + a real node, for the whole session."""
    missing = find_missing_requirements()
    if missing:
        message = "the real node needs " + "; ".join(missing)
        if os.environ.get("NAGO_REQUIRE_REAL_NODE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    plane = start_control_plane(log_directory=tmp_path_factory.mktemp("real-node-logs"), real_node=True)
    yield plane
    node = plane.node
    assert node is not None
    plane.stop()
    # The machine as found: nothing the node made is left, and the kernel settings it changed are back.
    assert not node.cleanup_problems, node.cleanup_problems
    assert read_kernel_settings() == node.saved_kernel_settings
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0
    assert not list_mounts_under([node.state_directory, node.containerd_root])
    namespaces = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    assert not {n for n in namespaces - node.network_namespaces_before if n.startswith("cni-")}
    assert not node.state_directory.exists()


@pytest.fixture
def kube(real_node_plane: ControlPlane) -> ApiClient:
    return real_node_plane.admin_client()
