"""FTP: the banner, whether AUTH TLS is offered, and whether anonymous login works.

The anonymous attempt logs in and quits: it lists and writes nothing.
"""

from __future__ import annotations

import contextlib
import socket

from core.digits import ascii_digits
from core.results import Finding, Service

from .base import BANNER_LIMIT, Check, CheckError, connect, printable, recv_until

QID_BANNER = 27000
QID_ANONYMOUS = 27001
QID_CLEARTEXT = 27002

ANONYMOUS_PASSWORD = "scanner@enclave.invalid"


def read_reply(sock: socket.socket) -> tuple[int, str]:
    """One FTP reply (RFC 959: "123-" lines continue until a "123 " line)."""
    data = b""
    while True:
        chunk = recv_until(sock, b"\n", limit=16384)
        if not chunk:
            raise CheckError(f"FTP server stopped answering after {printable(data)!r}")
        data += chunk
        complete = data.split(b"\n")[:-1]  # text after the last newline is still arriving
        if not complete:
            continue
        code = complete[0][:3]
        if not ascii_digits(code):
            raise CheckError(f"not an FTP reply: {printable(data)!r}")
        if any(line.rstrip(b"\r") == code or line.startswith(code + b" ") for line in complete):
            return int(code), printable(data)


def command(sock: socket.socket, line: str) -> tuple[int, str]:
    try:
        sock.sendall(line.encode("ascii") + b"\r\n")
    except OSError as error:
        raise CheckError(f"FTP send failed: {error}") from error
    return read_reply(sock)


class FTPCheck(Check):
    name = "ftp"

    def applies(self, service: Service) -> bool:
        # Implicit FTPS (port 990) would need TLS first; the tls check covers that port.
        return service.protocol == "tcp" and service.name == "ftp" and service.tunnel != "ssl"

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        port = service.port
        sock = connect(ip, port, timeout)
        try:
            code, banner = read_reply(sock)
            if code != 220:
                raise CheckError(f"FTP server not ready: {banner}")
            service.banner = banner[:BANNER_LIMIT]  # kept in the service inventory
            findings = [Finding(QID_BANNER, port, "tcp", banner)]
            _, features = command(sock, "FEAT")
            if "AUTH TLS" not in features.upper() and "AUTH SSL" not in features.upper():
                evidence = f"FEAT does not offer AUTH TLS:\n{features}"
                findings.append(Finding(QID_CLEARTEXT, port, "tcp", evidence))
            code, user_reply = command(sock, "USER anonymous")
            if code == 331:
                code, pass_reply = command(sock, f"PASS {ANONYMOUS_PASSWORD}")
                transcript = f"USER anonymous -> {user_reply}\nPASS -> {pass_reply}"
            else:
                transcript = f"USER anonymous -> {user_reply}"
            if code == 230:
                findings.append(Finding(QID_ANONYMOUS, port, "tcp", transcript))
            # The verdict is in; a server that drops us at QUIT changes nothing.
            with contextlib.suppress(CheckError):
                command(sock, "QUIT")
            return findings
        finally:
            sock.close()
