"""`python -m nago_operator` (the image's entry point; also `nago-operator`): run the GeneratorSearch operator.

Settings come from NAGO_* environment variables (nago_operator.settings); flags override the namespaces and
the log level. With `NAGO_LEASE_NAME` set (the chart sets it and runs two replicas) the process first waits as a
standby until it holds the Lease (nago_operator.leadership; its /healthz answers meanwhile), then runs kopf;
it exits if it loses the Lease, and hands the Lease back when it stops (docs/design.md §7.7).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import kopf

from nago.errors import InvalidInputError
from nago.exit_codes import ExitCode
from nago_operator.settings import OperatorSettings, read_settings

POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
log = logging.getLogger("nago_operator")


class _StandbyHealth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"standby\n"
        self.send_response(200 if self.path.startswith("/healthz") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: probes come every few seconds
        return


@contextlib.contextmanager
def serve_standby_health(port: int) -> Iterator[None]:
    """/healthz while the replica waits for the Lease (kopf serves it once active, on the same port)."""
    if not port:
        yield
        return
    server = ThreadingHTTPServer(("0.0.0.0", port), _StandbyHealth)
    thread = threading.Thread(target=server.serve_forever, name="standby-health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _run_kopf(settings: OperatorSettings) -> None:
    import nago_operator.handlers  # noqa: F401  (registers the handlers)

    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    kopf.run(
        standalone=True, clusterwide=not settings.namespaces, namespaces=settings.namespaces,
        liveness_endpoint=liveness, memo=kopf.Memo(settings=settings),
    )  # fmt: skip


def _run_elected(settings: OperatorSettings, lease_name: str) -> None:
    from nago_operator.kube_api import connect
    from nago_operator.leadership import LeaseElector, LeaseTimings

    namespace = settings.lease_namespace or (
        POD_NAMESPACE_FILE.read_text().strip() if POD_NAMESPACE_FILE.exists() else "default"
    )
    identity = f"{os.environ.get('HOSTNAME', socket.gethostname())}_{uuid.uuid4().hex[:8]}"
    seconds = settings.lease_seconds
    timings = LeaseTimings(seconds, renew_deadline_seconds=seconds * 2 / 3, retry_seconds=seconds / 7.5)
    elector = LeaseElector(connect(pool_size=2), namespace, lease_name, identity, timings)
    with serve_standby_health(settings.health_port):
        elector.acquire()
    log.info("lease %s/%s: this replica (%s) is active", namespace, lease_name, identity)

    def lost() -> None:
        logging.shutdown()
        os._exit(ExitCode.RUNTIME_FAILURE)  # at once: another replica may act after the lease expires

    elector.keep(lost)
    try:
        _run_kopf(settings)
    finally:
        elector.release()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="nago-operator", description=__doc__)
    parser.add_argument(
        "--namespace", action="append", help="watch this namespace (repeatable; default NAGO_NAMESPACES, else all)"
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default NAGO_LOG_LEVEL, else INFO)")
    args = parser.parse_args(argv)
    overrides: dict[str, str] = {}
    if args.namespace:
        overrides["NAGO_NAMESPACES"] = ",".join(args.namespace)
    if args.log_level:
        overrides["NAGO_LOG_LEVEL"] = args.log_level.upper()
    try:
        settings = read_settings({**os.environ, **overrides})
    except InvalidInputError as error:
        print(f"nago-operator: {error}", file=sys.stderr)
        raise SystemExit(ExitCode.BAD_INPUT) from None
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.lease_name:
        _run_elected(settings, settings.lease_name)
    else:
        _run_kopf(settings)


if __name__ == "__main__":
    main()
