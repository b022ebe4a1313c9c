"""The real node's cluster DNS (tests/support/control_plane/cluster_dns.py): Service names to ClusterIPs over
real UDP, with the API server replaced by a table at the client boundary."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from control_plane.api import ApiError
from control_plane.cluster_dns import ClusterDns, build_answer, read_question

SERVICES = {
    "/api/v1/namespaces/team/services/nago-redis": {"spec": {"clusterIP": "10.0.0.17"}},
    "/api/v1/namespaces/team/services/headless": {"spec": {"clusterIP": "None"}},
}


class TableClient:
    def get(self, path: str) -> dict[str, Any]:
        if path not in SERVICES:
            raise ApiError("GET", path, 404, {"reason": "NotFound"})
        return SERVICES[path]


def build_query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


@pytest.fixture
def dns() -> Iterator[ClusterDns]:
    server = ClusterDns(TableClient(), "127.0.0.1", port=0)  # type: ignore[arg-type]
    server.start()
    yield server
    server.stop()


def ask(server: ClusterDns, query: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(10)
        client.sendto(query, server.socket.getsockname())
        return client.recv(512)


@pytest.mark.parametrize(
    ("name", "qtype", "code", "address"),
    [
        ("nago-redis.team.svc.cluster.local", 1, 0, "10.0.0.17"),
        ("NAGO-REDIS.team.svc.cluster.local", 1, 0, "10.0.0.17"),  # names are case-insensitive
        ("nago-redis.team.svc.cluster.local", 28, 0, None),  # AAAA: the name exists, no IPv6 address
        ("headless.team.svc.cluster.local", 1, 0, None),
        ("nago-redis.team.svc.team.svc.cluster.local", 1, 3, None),  # the search path's first try: NXDOMAIN
        ("missing.team.svc.cluster.local", 1, 3, None),
        ("pypi.org", 1, 3, None),  # nothing is forwarded
    ],
)
def test_service_names_resolve_to_their_cluster_ips(
    dns: ClusterDns, name: str, qtype: int, code: int, address: str | None
) -> None:
    reply = ask(dns, build_query(name, qtype))
    ident, flags, questions, answers = struct.unpack("!HHHH", reply[:8])
    assert ident == 0x1234 and flags & 0x8000 and flags & 0x000F == code and questions == 1
    assert answers == (1 if address else 0)
    if address:
        assert socket.inet_ntoa(reply[-4:]) == address
        assert struct.unpack("!HHHIH", reply[-16:-4]) == (0xC00C, 1, 1, 5, 4)


def test_a_malformed_query_gets_a_format_error() -> None:
    assert read_question(b"\x00\x01") is None
    reply = build_answer(b"\x12\x34\x00", None, False)
    assert struct.unpack("!HH", reply[:4]) == (0x1234, 0x8181)
