"""`python -m nago_operator` (the image's entry point; also `nago-operator`): run the GeneratorSearch operator.

Settings come from NAGO_* environment variables (nago_operator.settings); flags override the namespaces and
the log level. Runs standalone (one replica, Deployment strategy Recreate; docs/design.md §7.7).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import kopf

from nago.errors import InvalidInputError
from nago.exit_codes import ExitCode
from nago_operator.settings import read_settings


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
    import nago_operator.handlers  # noqa: F401  (registers the handlers)

    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    kopf.run(
        standalone=True, clusterwide=not settings.namespaces, namespaces=settings.namespaces,
        liveness_endpoint=liveness, memo=kopf.Memo(settings=settings),
    )  # fmt: skip


if __name__ == "__main__":
    main()
