"""A real Kubernetes control plane for tests, run as local processes (no container engine needed).

etcd, kube-apiserver and kube-controller-manager are built from the Go module proxy by
`tools/control-plane/build.sh` (`make control-plane`) and started on free loopback ports with a throw-away
PKI. Pods run as local processes under the *process kubelet* (`kubelet.py`): it binds every pending pod to
its one Node, runs each container's command and args with the pod's environment, and reports status the
way a kubelet does. Container images are ignored. See docs/control-plane.md.
"""

from control_plane.api import ApiClient, ApiError
from control_plane.binaries import Binaries, find_binaries
from control_plane.cluster import ControlPlane, start_control_plane

__all__ = ["ApiClient", "ApiError", "Binaries", "ControlPlane", "find_binaries", "start_control_plane"]
