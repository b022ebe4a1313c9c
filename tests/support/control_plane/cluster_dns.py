"""The cluster's DNS for the real node: Services' names to their ClusterIPs, read from the API server.

A test stand-in for CoreDNS (which these machines cannot pull): it answers A queries for
`<service>.<namespace>.svc.<domain>` with the Service's ClusterIP, AAAA queries for those names with no
address (so resolvers fall back to IPv4 at once), and NXDOMAIN for every other name; nothing is forwarded.
Pods find it through the kubelet's `clusterDNS`, with the usual search path (`<ns>.svc.<domain>`,
`svc.<domain>`, `<domain>`), so `redis://nago-redis.ns.svc:6379` resolves as on a real cluster.
UDP only (RFC 1035 §4.2.1); one thread.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from control_plane.api import ApiClient, ApiError

_TYPE_A, _TYPE_AAAA, _CLASS_IN = 1, 28, 1
_NO_ERROR, _FORMAT_ERROR, _NAME_ERROR = 0, 1, 3


def read_question(message: bytes) -> tuple[int, int, str, int, int] | None:
    """(id, flags, name, qtype, end of question) of a one-question query, or None if it is not one."""
    if len(message) < 12:
        return None
    ident, flags, questions = struct.unpack("!HHH", message[:6])
    if questions != 1 or flags & 0x8000:
        return None
    labels, offset = [], 12
    while offset < len(message):
        length = message[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:  # compression pointers never appear in a query's only question
            return None
        labels.append(message[offset : offset + length].decode("ascii", "replace").lower())
        offset += length
    if offset + 4 > len(message):
        return None
    qtype, _ = struct.unpack("!HH", message[offset : offset + 4])
    return ident, flags, ".".join(labels), qtype, offset + 4


def build_answer(query: bytes, address: str | None, known: bool) -> bytes:
    """The reply to `query`: one A record for `address`, no record (known name, other type) or NXDOMAIN."""
    parsed = read_question(query)
    if parsed is None:
        ident = struct.unpack("!H", query[:2])[0] if len(query) >= 2 else 0
        return struct.pack("!HHHHHH", ident, 0x8180 | _FORMAT_ERROR, 0, 0, 0, 0)
    ident, flags, _, _, end = parsed
    code = _NO_ERROR if known else _NAME_ERROR
    header_flags = 0x8400 | (flags & 0x0100) | code  # response, authoritative, recursion desired copied
    answers = 1 if address else 0
    reply = struct.pack("!HHHHHH", ident, header_flags, 1, answers, 0, 0) + query[12:end]
    if address:
        # name as a pointer to the question (offset 12), type A, class IN, TTL 5 s, 4 bytes of address
        reply += struct.pack("!HHHIH", 0xC00C, _TYPE_A, _CLASS_IN, 5, 4) + socket.inet_aton(address)
    return reply


class ClusterDns:
    """Answers on `address`:53 (UDP) from the Services the API server holds, until `stop`."""

    def __init__(self, client: ApiClient, address: str, domain: str = "cluster.local", port: int = 53) -> None:
        self.client = client
        self.domain = domain
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((address, port))
        self.socket.settimeout(0.5)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="cluster-dns", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.socket.close()

    def look_up(self, name: str) -> tuple[str | None, bool]:
        """(ClusterIP, known) for a fully qualified name; (None, False) for names outside the cluster."""
        suffix = f".svc.{self.domain}"
        if not name.endswith(suffix):
            return None, False
        parts = name[: -len(suffix)].split(".")
        if len(parts) != 2:
            return None, False
        service, namespace = parts
        try:
            found = self.client.get(f"/api/v1/namespaces/{namespace}/services/{service}")
        except (ApiError, OSError):  # not found, or the API server not reachable: no such name, for now
            return None, False
        cluster_ip = found.get("spec", {}).get("clusterIP")
        return (cluster_ip if cluster_ip and cluster_ip != "None" else None), True

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                query, peer = self.socket.recvfrom(512)
            except (TimeoutError, OSError):
                continue
            parsed = read_question(query)
            address, known = (None, False)
            if parsed is not None:
                address, known = self.look_up(parsed[2])
                if parsed[3] != _TYPE_A:
                    address = None
            with contextlib.suppress(OSError):
                self.socket.sendto(build_answer(query, address, known), peer)
