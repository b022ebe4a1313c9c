"""Run the test control plane in the foreground for manual use: `make cluster`
(or `PYTHONPATH=tests/support python -m control_plane`). Prints the kubeconfig path; Ctrl-C stops everything."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from control_plane.cluster import start_control_plane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m control_plane", description=__doc__)
    parser.add_argument("--log-dir", type=Path, help="keep the process logs here (default: inside the state folder)")
    parser.add_argument(
        "--real-node", action="store_true",
        help="a real node (kubelet, containerd, kube-proxy; root and `make images`) instead of the process kubelet",
    )  # fmt: skip
    options = parser.parse_args(argv)
    stop = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    plane = start_control_plane(log_directory=options.log_dir, real_node=options.real_node)
    try:
        print(f"control plane {plane.binaries.kubernetes_version} ready at {plane.server}")
        print(f"kubeconfig: {plane.kubeconfig}")
        print(f"logs:       {plane.log_directory}")
        print(f"try:        export KUBECONFIG={plane.kubeconfig}; {plane.binaries.kubectl} get nodes")
        print(f"helm:       {plane.binaries.helm}")
        print("Ctrl-C stops everything.", flush=True)
        stop.wait()
    finally:
        print("stopping ...", flush=True)
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
