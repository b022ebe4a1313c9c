"""Small manifests the cluster tests create."""

from __future__ import annotations

from collections.abc import Sequence

from control_plane.api import JSON


def build_job(
    name: str,
    command: Sequence[str],
    backoff_limit: int = 0,
    env: Sequence[JSON] = (),
    owner: JSON | None = None,
    image: str = "ignored.example/not-pulled:latest",
) -> JSON:
    """A batch/v1 Job with one container (restart policy Never). The image is never pulled: the process
    kubelet runs `command` on this machine."""
    metadata: JSON = {"name": name}
    if owner is not None:
        metadata["ownerReferences"] = [
            {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
             "uid": owner["metadata"]["uid"]}
        ]  # fmt: skip
    container: JSON = {"name": "main", "image": image, "command": list(command), "env": list(env)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }
