"""Where the pinned control-plane binaries live: the versions come from tools/control-plane/versions.env,
the binaries from the per-version cache that `make control-plane` fills."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
TOOLS = REPOSITORY / "tools" / "control-plane"


@dataclass(frozen=True)
class Binaries:
    kubernetes_version: str
    etcd_version: str
    helm_version: str
    kube_apiserver: Path
    kube_controller_manager: Path
    kubectl: Path
    etcd: Path
    helm: Path
    kubelet: Path
    kube_proxy: Path
    kube_scheduler: Path

    def missing(self) -> list[Path]:
        paths = [self.kube_apiserver, self.kube_controller_manager, self.kubectl, self.etcd, self.helm]
        paths += [self.kubelet, self.kube_proxy, self.kube_scheduler]
        return [path for path in paths if not os.access(path, os.X_OK)]


def read_versions(path: Path = TOOLS / "versions.env") -> dict[str, str]:
    """Parse the KEY=value lines of versions.env (shell syntax, quotes allowed)."""
    versions: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        versions[key] = " ".join(shlex.split(value))
    return versions


def cache_root() -> Path:
    configured = os.environ.get("NAGO_CONTROL_PLANE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "nago" / "control-plane"


def find_binaries() -> Binaries:
    """Paths of the pinned binaries in the cache (they may not exist yet; see `Binaries.missing`)."""
    versions = read_versions()
    root = cache_root()
    kubernetes = root / f"kubernetes-{versions['KUBERNETES_VERSION']}" / "bin"
    return Binaries(
        kubernetes_version=versions["KUBERNETES_VERSION"],
        etcd_version=versions["ETCD_VERSION"],
        helm_version=versions["HELM_VERSION"],
        kube_apiserver=kubernetes / "kube-apiserver",
        kube_controller_manager=kubernetes / "kube-controller-manager",
        kubectl=kubernetes / "kubectl",
        etcd=root / f"etcd-{versions['ETCD_VERSION']}" / "bin" / "etcd",
        helm=root / f"helm-{versions['HELM_VERSION']}" / "bin" / "helm",
        kubelet=kubernetes / "kubelet",
        kube_proxy=kubernetes / "kube-proxy",
        kube_scheduler=kubernetes / "kube-scheduler",
    )


def require_binaries() -> Binaries:
    """The binaries, or an error that says how to build them."""
    binaries = find_binaries()
    missing = binaries.missing()
    if missing:
        listed = ", ".join(str(path) for path in missing)
        raise FileNotFoundError(f"control-plane binaries missing ({listed}); build them with `make control-plane`")
    return binaries
