"""The Kubernetes adapter of nago (kopf handlers, Job manifests, CRD generation).

Empty for now: the operator arrives with its own issue. Only this package may import kopf or a
Kubernetes client; `nago` never does (checked by tests/unit/test_import_rules.py).
"""
