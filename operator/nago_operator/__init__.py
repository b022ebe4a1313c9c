"""The Kubernetes adapter of nago: kopf handlers, the per-search reconciler, trial Jobs, the ledger's ConfigMap and
the CRD generated from the pydantic spec (docs/operator.md, docs/design.md §7).

Only this package may import kopf or a Kubernetes client; `nago` never does, and this package loads torch
only when a search needs a torch proposer (both checked by tests/unit/test_import_rules.py). Install it with
`pip install "nago[operator]"`.
"""
