"""The durable ledger on Kubernetes: a ConfigMap owned by the search, gzip-compressed JSON (docs/design.md §3.1).

Not in the search's status (Katib #1847: an unbounded history in a custom resource hits the request size
limit) and not in Redis (the transport, which may be lost). The ConfigMap `<search>-ledger` holds
`ledger.json.gz` in binaryData; owner references delete it with the search. The operator is its only
writer, and it writes the ledger before it creates the Jobs the ledger asks for and before it acknowledges
the records whose effect the ledger holds. A ConfigMap holds at most 1 MiB: a ledger that would not fit is
an explicit error (about 4-5 k trials; docs/operator.md gives the measured figure), never a silent loss.
"""

from __future__ import annotations

import base64
import gzip

from nago.search.ledger import Ledger
from nago_operator.kube_api import KubeApi, KubeError
from nago_operator.trial_jobs import build_owner_reference

LEDGER_KEY = "ledger.json.gz"
MAX_CONFIGMAP_BYTES = 1_000_000  # the API server's limit is 1 MiB for the whole object


class LedgerTooLargeError(Exception):
    """The compressed ledger no longer fits one ConfigMap."""


def format_ledger_name(search: str) -> str:
    return f"{search}-ledger"


def encode_ledger(ledger: Ledger) -> str:
    """Base64 of the gzip-compressed JSON (mtime 0, so equal ledgers encode equally)."""
    packed = gzip.compress(ledger.model_dump_json().encode(), compresslevel=6, mtime=0)
    encoded = base64.b64encode(packed).decode()
    if len(encoded) > MAX_CONFIGMAP_BYTES:
        raise LedgerTooLargeError(
            f"the ledger of {len(ledger.trials)} trials takes {len(encoded)} bytes compressed; "
            f"a ConfigMap holds at most {MAX_CONFIGMAP_BYTES}"
        )
    return encoded


def decode_ledger(encoded: str) -> Ledger:
    return Ledger.model_validate_json(gzip.decompress(base64.b64decode(encoded)))


class LedgerStore:
    """Reads and writes one search's ledger ConfigMap; skips writes that change nothing."""

    def __init__(self, kube: KubeApi, namespace: str, search: str, uid: str) -> None:
        self.kube = kube
        self.path = f"/api/v1/namespaces/{namespace}/configmaps"
        self.name = format_ledger_name(search)
        self.namespace, self.search, self.uid = namespace, search, uid
        self.stored: str | None = None
        self.exists = False

    def load(self) -> Ledger | None:
        """The stored ledger, or None for a new search (or one whose ConfigMap belongs to an older search)."""
        try:
            config_map = self.kube.get(f"{self.path}/{self.name}")
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        self.exists = True
        owners = {ref.get("uid") for ref in config_map.get("metadata", {}).get("ownerReferences", []) or []}
        encoded = (config_map.get("binaryData") or {}).get(LEDGER_KEY)
        if self.uid not in owners or encoded is None:
            return None  # left by a deleted search of the same name; replaced on the first save
        self.stored = encoded
        return decode_ledger(encoded)

    def save(self, ledger: Ledger) -> None:
        encoded = encode_ledger(ledger)
        if encoded == self.stored:
            return
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name, "namespace": self.namespace,
                "labels": {"nago.dev/search": self.search, "app.kubernetes.io/managed-by": "nago-operator"},
                "ownerReferences": [build_owner_reference(self.search, self.uid)],
            },
            "binaryData": {LEDGER_KEY: encoded},
        }  # fmt: skip
        if self.exists:
            self.kube.replace(f"{self.path}/{self.name}", body)
        else:
            try:
                self.kube.create(self.path, body)
            except KubeError as error:
                if error.status != 409:
                    raise
                self.kube.replace(f"{self.path}/{self.name}", body)
            self.exists = True
        self.stored = encoded
