"""`nago report --from-cluster [NAMESPACE/]NAME`: a search's spec and ledger read straight from the cluster.

The library stays free of Kubernetes code (docs/design.md §2.2): `nago report` finds this function through the
`nago.report_sources` entry point and writes the same report as from a state folder. It logs in the way the
operator does outside a cluster (the kubeconfig's current context, exec plugins included), reads the
GeneratorSearch and its ledger ConfigMap, and says in one line what is missing or forbidden.
"""

from __future__ import annotations

from pathlib import Path

from nago.errors import InvalidInputError, SourceUnavailableError
from nago.search.ledger import Ledger
from nago.search.spec import API_VERSION, KIND, GeneratorSearch, parse_search
from nago_operator.kube_api import JSON, KubeApi, KubeError, LoginError, connect
from nago_operator.ledger_store import LEDGER_KEY, decode_ledger, format_ledger_name
from nago_operator.trial_jobs import GROUP, PLURAL, VERSION

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def parse_reference(reference: str, default_namespace: str) -> tuple[str, str]:
    """`NAMESPACE/NAME`, `gs/NAME` or `NAME` (the last two in `default_namespace`)."""
    import re

    parts = reference.split("/")
    if len(parts) == 2 and parts[0] in ("gs", "generatorsearch", "generatorsearches"):
        parts = [default_namespace, parts[1]]
    elif len(parts) == 1:
        parts = [default_namespace, parts[0]]
    if len(parts) != 2 or not all(re.match(NAME_PATTERN, part) for part in parts):
        raise InvalidInputError(
            "--from-cluster", f"expected NAMESPACE/NAME, gs/NAME or NAME (lower-case DNS names), got {reference!r}"
        )
    return parts[0], parts[1]


def read_context_namespace(kubeconfig: Path | None) -> str:
    """The current context's namespace, else `default`."""
    from kubernetes import config as k8s_config

    try:
        _, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None
        )
    except (k8s_config.ConfigException, OSError):
        return "default"
    return str((active or {}).get("context", {}).get("namespace") or "default")


def _get(kube: KubeApi, path: str, what: str) -> JSON:
    try:
        return kube.get(path)
    except KubeError as error:
        if error.status == 404:
            raise SourceUnavailableError(f"{what} not found") from None
        if error.status in (401, 403):
            raise SourceUnavailableError(f"{what}: {error.reason or 'forbidden'}: {error.message}") from None
        if error.status == 0:
            raise SourceUnavailableError(f"the API server {kube.server} cannot be reached: {error.message}") from None
        raise SourceUnavailableError(f"{what}: {error}") from None


def fetch_search(reference: str, kubeconfig: Path | None = None) -> tuple[GeneratorSearch, Ledger]:
    """The search `reference` names and its ledger, from the cluster of the kubeconfig's current context."""
    namespace, name = parse_reference(reference, read_context_namespace(kubeconfig))
    try:
        kube = connect(kubeconfig)
    except LoginError as error:
        raise SourceUnavailableError(str(error)) from None
    try:
        body = _get(kube, f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}",
                    f"generatorsearch {namespace}/{name}")  # fmt: skip
        metadata = body.get("metadata", {})
        search = parse_search({
            "apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": name, "namespace": namespace, "uid": metadata.get("uid"),
                         "generation": metadata.get("generation")},
            "spec": body.get("spec") or {},
        })  # fmt: skip
        ledger_name = format_ledger_name(name)
        config_map = _get(kube, f"/api/v1/namespaces/{namespace}/configmaps/{ledger_name}",
                          f"the ledger of {namespace}/{name} (ConfigMap {ledger_name}; the operator writes it "
                          "at the search's first reconcile)")  # fmt: skip
    finally:
        kube.close()
    owners = {ref.get("uid") for ref in config_map.get("metadata", {}).get("ownerReferences") or []}
    encoded = (config_map.get("binaryData") or {}).get(LEDGER_KEY)
    if encoded is None or metadata.get("uid") not in owners:
        raise SourceUnavailableError(
            f"ConfigMap {namespace}/{ledger_name} is not the ledger of this search "
            f"(it has no {LEDGER_KEY} or belongs to an earlier search of that name)"
        )
    return search, decode_ledger(encoded)
