"""Install a CustomResourceDefinition into the test control plane and wait until its resources are served.

Idempotent, so every module of a session can call it: a CRD already there with the same content (a hash of the
manifest, kept in an annotation) is left alone; one with other content is replaced. The API server serves a
replaced schema a moment later (it rebuilds its handlers from the watch), so a test that replaces a CRD with a
different version should not rely on the new schema in the same instant.
"""

from __future__ import annotations

import copy
import hashlib
import json

from control_plane.api import JSON, ApiError
from control_plane.waiting import find_condition, wait_for
from nago_operator.kube_api import KubeApi

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
HASH_ANNOTATION = "nago.dev/crd-hash"


def install_crd(kube: KubeApi, crd: JSON, timeout: float = 60.0) -> str:
    """Create `crd` or replace a different one of the same name; wait until Established and served.
    Returns the API prefix of its storage version, e.g. /apis/nago.dev/v1alpha1."""
    wanted = copy.deepcopy(crd)
    digest = hashlib.sha256(json.dumps(crd, sort_keys=True).encode()).hexdigest()
    wanted["metadata"].setdefault("annotations", {})[HASH_ANNOTATION] = digest
    name = wanted["metadata"]["name"]
    try:
        kube.create(CRDS, wanted)
    except ApiError as error:
        if error.status != 409:
            raise
        current = kube.get(f"{CRDS}/{name}")
        if current["metadata"].get("annotations", {}).get(HASH_ANNOTATION) != digest:
            wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            kube.send("PUT", f"{CRDS}/{name}", wanted)
    wait_for(
        f"CRD {name} to be Established", lambda: find_condition(kube.get(f"{CRDS}/{name}"), "Established"), timeout
    )
    spec = wanted["spec"]
    storage = next(version["name"] for version in spec["versions"] if version.get("storage"))
    prefix = f"/apis/{spec['group']}/{storage}"
    wait_for(
        f"{spec['names']['plural']} to be served", lambda: kube.get(f"{prefix}/{spec['names']['plural']}"), timeout
    )
    return prefix
