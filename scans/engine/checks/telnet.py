"""Telnet: an open Telnet port sends logins and sessions in clear text."""

from __future__ import annotations

from core.results import Finding, Service

from .base import Check, CheckError, connect, printable

QID_TELNET = 105100

IAC = 255


def strip_negotiation(data: bytes) -> bytes:
    """The text of a Telnet stream without its IAC option negotiation (RFC 854)."""
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == IAC and i + 1 < len(data):
            command = data[i + 1]
            if command == IAC:  # an escaped 255 data byte
                out.append(IAC)
                i += 2
            elif command == 250:  # subnegotiation: skip to IAC SE
                end = data.find(bytes([IAC, 240]), i + 2)
                i = len(data) if end < 0 else end + 2
            elif 251 <= command <= 254:  # WILL/WONT/DO/DONT + option
                i += 3
            else:
                i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


class TelnetCheck(Check):
    name = "telnet"

    def applies(self, service: Service) -> bool:
        return service.protocol == "tcp" and service.name == "telnet"

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        # Connect again so the finding reflects the port now, and keep what the server
        # says first (often its login banner) as evidence. Silence is normal for Telnet.
        sock = connect(ip, service.port, min(timeout, 3.0))
        data = b""
        try:
            while len(data) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
                sock.settimeout(0.5)  # the rest of a greeting follows at once, if at all
        except TimeoutError:
            pass  # servers wait for our option replies; what arrived so far is enough
        except OSError as error:
            raise CheckError(f"Telnet read from {ip}:{service.port} failed: {error}") from error
        finally:
            sock.close()
        text = printable(strip_negotiation(data))
        product = " ".join(p for p in (service.product, service.version) if p)
        evidence = f"Telnet service open on {service.port}/tcp"
        if product:
            evidence += f" ({product})"
        if text:
            evidence += f"\nServer sent: {text}"
        return [Finding(QID_TELNET, service.port, "tcp", evidence)]
