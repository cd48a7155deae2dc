"""What every check module shares: the check interface, the one way to open a
socket to a target, and small helpers to read line-based banners."""

from __future__ import annotations

import socket
from typing import ClassVar

from core.results import Finding, HostResult, Service

DEFAULT_TIMEOUT = 5.0
# A banner kept in the service inventory (core.results.Service.banner), at most.
BANNER_LIMIT = 1024


class CheckError(Exception):
    """A probe could not reach a verdict (refused, timed out, spoke an unknown protocol).

    The runner then leaves the check out of ``HostResult.checks_run``, so the
    platform does not read "no finding" as "fixed".
    """


class Check:
    """One check module. Subclasses set ``name`` and override what they need.

    ``check_service`` runs once per open service the check ``applies`` to and
    may talk to ``ip``:``service.port`` (and nothing else). ``check_host``
    runs once per host and only reads what nmap already found.
    """

    name: ClassVar[str] = ""

    def applies(self, service: Service) -> bool:
        return False

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        return []

    def check_host(self, host: HostResult) -> list[Finding]:
        return []


def connect(ip: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly ``ip``:``port`` (never a name lookup); CheckError if refused."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
    except OSError as error:
        sock.close()
        raise CheckError(f"cannot connect to {ip}:{port}: {error}") from error
    return sock


def recv_until(sock: socket.socket, marker: bytes, limit: int = 65536) -> bytes:
    """Bytes read until ``marker`` appears, the peer closes, or ``limit`` is reached."""
    data = b""
    while marker not in data and len(data) < limit:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        except OSError as error:
            raise CheckError(f"read failed: {error}") from error
        if not chunk:
            break
        data += chunk
    return data


def recv_exact(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes; CheckError if the peer closes or stalls first."""
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError as error:  # includes TimeoutError
            raise CheckError(f"read failed: {error}") from error
        if not chunk:
            raise CheckError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def is_tls(service: Service) -> bool:
    return service.tunnel == "ssl" or service.name in {
        "https",
        "ssl",
        "imaps",
        "pop3s",
        "smtps",
        "ldaps",
        "ftps",
        "https-alt",
    }


def printable(data: bytes, limit: int = 300) -> str:
    """Bytes as one readable line for evidence: control bytes dropped, length capped."""
    text = data.decode("latin-1")
    text = "".join(ch if ch.isprintable() or ch in "\r\n\t" else "" for ch in text)
    return text.strip()[:limit]
