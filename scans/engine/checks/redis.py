"""Redis: does it answer commands without authentication?

PING and INFO only: nothing is written, no configuration is read or changed.
"""

from __future__ import annotations

import socket

from core.results import Finding, Service

from .base import Check, CheckError, connect, printable, recv_exact, recv_until

QID_NO_AUTH = 105200
QID_INFO = 105201

_INFO_FIELDS = ("redis_version", "redis_mode", "os", "tcp_port", "uptime_in_days")


def parse_info(text: str) -> dict[str, str]:
    """``key:value`` lines of an INFO reply."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not key.startswith("#"):
            out[key.strip()] = value.strip()
    return out


def read_bulk(sock: socket.socket) -> bytes:
    """One RESP bulk string ("$<length>\\r\\n<bytes>\\r\\n")."""
    head, _, rest = recv_until(sock, b"\r\n", limit=65536).partition(b"\r\n")
    if not head.startswith(b"$") or not head[1:].isdigit():
        raise CheckError(f"unexpected Redis reply: {printable(head)!r}")
    size = min(int(head[1:]), 1 << 20)
    if len(rest) < size:
        rest += recv_exact(sock, size - len(rest))
    return rest[:size]


class RedisCheck(Check):
    name = "redis"

    def applies(self, service: Service) -> bool:
        return service.protocol == "tcp" and service.name == "redis"

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        sock = connect(ip, service.port, timeout)
        try:
            sock.sendall(b"PING\r\n")
            pong = recv_until(sock, b"\r\n", limit=4096)
            if not pong:
                raise CheckError("Redis sent no reply to PING")
            # "-NOAUTH ..." needs a password; "-DENIED ..." is protected mode: both refuse us.
            if not pong.startswith(b"+PONG"):
                return [Finding(QID_INFO, service.port, "tcp", f"PING -> {printable(pong)}")]
            sock.sendall(b"INFO server\r\n")
            reply = read_bulk(sock)
        except OSError as error:
            raise CheckError(f"Redis exchange with {ip}:{service.port} failed: {error}") from error
        finally:
            sock.close()
        info = parse_info(reply.decode("utf-8", "replace"))
        details = [f"{key}: {info[key]}" for key in _INFO_FIELDS if key in info]
        evidence = "PING answered +PONG without authentication"
        if details:
            evidence += "\n" + "\n".join(details)
        return [
            Finding(QID_NO_AUTH, service.port, "tcp", evidence),
            Finding(QID_INFO, service.port, "tcp", "\n".join(details) or printable(pong)),
        ]
