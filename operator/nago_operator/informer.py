"""What the API server says about the searches' trial Jobs and pods, kept current by one list-and-watch each.

One `Informer` per resource (and per watched namespace) for the whole operator, with the server-side label
selector `nago.dev/search`: the server sends only the objects the operator owns. It lists once, then watches
from the list's resourceVersion (with bookmarks, so a quiet watch can resume where it was); when the server says
the version is too old (410 Gone) or the connection breaks it lists again and replaces its store wholesale,
so an object deleted while it was not watching disappears too (docs/design.md §7.2). Every change calls
`on_change(namespace, search)`, which wakes that search's reconcile; the reconcile reads the store
(`list_for`) and never lists Jobs or pods from the API server.

Runs in a daemon thread; the official client's connection is blocking and the store is shared with the
reconcile threads under a lock.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from nago_operator.kube_api import JSON, KubeApi, KubeError
from nago_operator.trial_jobs import LABEL_SEARCH

WATCH_SECONDS = 240  # the server ends each watch after this; the next one resumes from the last version
RETRY_SECONDS = (0.5, 30.0)  # first and largest wait before listing again after an error
log = logging.getLogger("nago_operator")

SearchKey = tuple[str, str]  # (namespace, search name)


def _search_of(obj: JSON) -> SearchKey | None:
    metadata = obj.get("metadata") or {}
    search = (metadata.get("labels") or {}).get(LABEL_SEARCH)
    namespace = metadata.get("namespace")
    return (str(namespace), str(search)) if search and namespace else None


class Informer:
    """The objects under `path` carrying the search label, by search; `synced` is set after the first list."""

    def __init__(self, kube: KubeApi, path: str, on_change: Callable[[str, str], None]) -> None:
        self.kube, self.path, self.on_change = kube, path, on_change
        self.lock = threading.Lock()
        self.objects: dict[SearchKey, dict[str, JSON]] = {}
        self.synced = threading.Event()
        self.stopped = threading.Event()
        self.version = ""
        self.thread = threading.Thread(target=self._run, name=f"informer{path}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def list_for(self, namespace: str, search: str) -> list[JSON]:
        """The search's objects as last seen (copies are not made: callers only read)."""
        with self.lock:
            return list(self.objects.get((namespace, search), {}).values())

    # ---- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        wait = 0.0
        while not self.stopped.is_set():
            try:
                self._list()
                wait = 0.0
                while not self.stopped.is_set() and self._watch():
                    pass
            except KubeError as error:
                wait = min(max(wait * 2, RETRY_SECONDS[0]), RETRY_SECONDS[1])
                log.warning("watching %s: %s; listing again in %.1f s", self.path, error, wait)
            except Exception:  # never let the thread die: the operator would go blind
                wait = RETRY_SECONDS[1]
                log.exception("watching %s failed; listing again in %.1f s", self.path, wait)
            self.stopped.wait(wait)

    def _list(self) -> None:
        answer = self.kube.get(self.path, {"labelSelector": LABEL_SEARCH})
        fresh: dict[SearchKey, dict[str, JSON]] = {}
        for obj in answer.get("items", []):
            key = _search_of(obj)
            if key is not None:
                fresh.setdefault(key, {})[obj["metadata"]["name"]] = obj
        with self.lock:
            changed = {key for key in fresh.keys() | self.objects.keys() if fresh.get(key) != self.objects.get(key)}
            self.objects = fresh
            self.version = str(answer.get("metadata", {}).get("resourceVersion", ""))
        self.synced.set()
        for namespace, search in sorted(changed):
            self.on_change(namespace, search)

    def _watch(self) -> bool:
        """One watch from the current version; False when the store must be listed again (410 Gone)."""
        query = {
            "labelSelector": LABEL_SEARCH, "watch": "true", "allowWatchBookmarks": "true",
            "resourceVersion": self.version, "timeoutSeconds": str(WATCH_SECONDS),
        }  # fmt: skip
        for line in self.kube.stream_lines(self.path, query, read_timeout=WATCH_SECONDS + 30):
            if self.stopped.is_set():
                return False
            event: dict[str, Any] = json.loads(line)
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                log.info("watching %s: %s; listing again", self.path, obj.get("message", obj))
                return False  # 410 Gone (the version is too old) or another error: start from a list
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind == "BOOKMARK":
                self.version = str(version or self.version)
                continue
            key = _search_of(obj)
            with self.lock:
                self.version = str(version or self.version)
                if key is None:
                    continue
                named = self.objects.setdefault(key, {})
                if kind == "DELETED":
                    named.pop(obj["metadata"]["name"], None)
                    if not named:
                        del self.objects[key]
                else:
                    named[obj["metadata"]["name"]] = obj
            self.on_change(*key)
        return True


class TrialObjects:
    """The trial Jobs and pods of every search: one informer per resource cluster-wide, or one per resource and
    watched namespace."""

    SYNC_TIMEOUT_SECONDS = 60.0

    def __init__(self, kube: KubeApi, namespaces: list[str], on_change: Callable[[str, str], None]) -> None:
        scopes = [f"/namespaces/{namespace}" for namespace in namespaces] or [""]
        self.jobs = {scope: Informer(kube, f"/apis/batch/v1{scope}/jobs", on_change) for scope in scopes}
        self.pods = {scope: Informer(kube, f"/api/v1{scope}/pods", on_change) for scope in scopes}

    def _all(self) -> list[Informer]:
        return [*self.jobs.values(), *self.pods.values()]

    def start(self) -> None:
        for informer in self._all():
            informer.start()

    def stop(self) -> None:
        for informer in self._all():
            informer.stop()

    def _pick(self, informers: dict[str, Informer], namespace: str) -> Informer:
        informer = informers.get(f"/namespaces/{namespace}") or informers.get("")
        if informer is None:
            raise KubeError("WATCH", namespace, 0, {"reason": "NotWatched", "message": "namespace not watched"})
        if not informer.synced.wait(self.SYNC_TIMEOUT_SECONDS):
            raise KubeError("LIST", informer.path, 0, {"reason": "NotSynced", "message": "no list has succeeded yet"})
        return informer

    def list_jobs(self, namespace: str, search: str) -> list[JSON]:
        """The search's trial Jobs as the watch last said (waits for the first list)."""
        return self._pick(self.jobs, namespace).list_for(namespace, search)

    def list_pods(self, namespace: str, search: str) -> list[JSON]:
        """The search's trial pods as the watch last said (waits for the first list)."""
        return self._pick(self.pods, namespace).list_for(namespace, search)
