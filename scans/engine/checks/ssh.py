"""SSH: the version banner and the algorithms in the server's KEXINIT.

After the version exchange an SSH server sends its KEXINIT in the clear,
listing every key exchange, host key, cipher and MAC algorithm it accepts.
We read it and hang up: no key exchange, no login attempt.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from core.results import Finding, Service

from .base import (
    BANNER_LIMIT,
    Check,
    CheckError,
    connect,
    printable,
    recv_exact,
    recv_until,
)

QID_VERSION = 38600
QID_ALGORITHMS = 38601
QID_WEAK_KEX = 38602
QID_CBC = 38603
QID_WEAK_MAC = 38604
QID_PROTOCOL1 = 38605
QID_WEAK_CIPHER = 38606
QID_TERRAPIN = 38607
QID_DSA_HOSTKEY = 38608

CLIENT_BANNER = b"SSH-2.0-EnclaveScanner_1.0\r\n"
MSG_KEXINIT = 20
_NAME_LISTS = (
    "kex",
    "host_key",
    "ciphers_c2s",
    "ciphers_s2c",
    "macs_c2s",
    "macs_s2c",
    "compression_c2s",
    "compression_s2c",
)
WEAK_MACS = {
    "hmac-md5",
    "hmac-md5-96",
    "hmac-sha1-96",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "umac-64@openssh.com",
    "umac-64-etm@openssh.com",
}
# Ciphers weak for reasons other than CBC mode: none, RC4, and 64-bit blocks.
WEAK_CIPHER_PREFIXES = ("none", "arcfour", "3des", "blowfish", "cast128", "des")


@dataclass
class KexInit:
    kex: list[str] = field(default_factory=list)
    host_key: list[str] = field(default_factory=list)
    ciphers: list[str] = field(default_factory=list)  # server to client and back, merged
    macs: list[str] = field(default_factory=list)
    compression: list[str] = field(default_factory=list)


def _merge(a: list[str], b: list[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def parse_kexinit(payload: bytes) -> KexInit:
    """The name-lists of an SSH_MSG_KEXINIT payload (RFC 4253 section 7.1)."""
    if not payload or payload[0] != MSG_KEXINIT:
        raise CheckError("first SSH packet is not KEXINIT")
    offset = 17  # message byte + 16-byte cookie
    lists: dict[str, list[str]] = {}
    for name in _NAME_LISTS:
        if offset + 4 > len(payload):
            raise CheckError("KEXINIT truncated")
        (length,) = struct.unpack("!I", payload[offset : offset + 4])
        offset += 4
        text = payload[offset : offset + length].decode("ascii", "replace")
        offset += length
        lists[name] = [item for item in text.split(",") if item]
    return KexInit(
        kex=lists["kex"],
        host_key=lists["host_key"],
        ciphers=_merge(lists["ciphers_c2s"], lists["ciphers_s2c"]),
        macs=_merge(lists["macs_c2s"], lists["macs_s2c"]),
        compression=_merge(lists["compression_c2s"], lists["compression_s2c"]),
    )


def read_banner_and_kexinit(ip: str, port: int, *, timeout: float) -> tuple[str, KexInit | None]:
    """The server's version line, and its KEXINIT (None for SSH-1-only servers)."""
    sock = connect(ip, port, timeout)
    try:
        data = recv_until(sock, b"\n", limit=8192)
        # RFC 4253 lets a server send other lines before its "SSH-" line.
        while not any(line.startswith(b"SSH-") for line in data.split(b"\n")[:-1]):
            more = recv_until(sock, b"\n", limit=8192)
            if not more or len(data) > 8192:
                raise CheckError(f"no SSH banner: {printable(data)!r}")
            data += more
        lines = data.split(b"\n")
        index = next(i for i, line in enumerate(lines) if line.startswith(b"SSH-"))
        banner = printable(lines[index])
        if not banner.startswith(("SSH-2.0-", "SSH-1.99-")):
            return banner, None
        rest = b"\n".join(lines[index + 1 :])
        sock.sendall(CLIENT_BANNER)
        while len(rest) < 5:
            chunk = recv_exact(sock, 5 - len(rest))
            rest += chunk
        (packet_length,) = struct.unpack("!I", rest[:4])
        if not 5 <= packet_length <= 35000:
            raise CheckError(f"implausible SSH packet length {packet_length}")
        body = rest[4:]
        if len(body) < packet_length:
            body += recv_exact(sock, packet_length - len(body))
        padding = body[0]
        payload = body[1 : packet_length - padding]
        return banner, parse_kexinit(payload)
    except OSError as error:
        raise CheckError(f"SSH exchange with {ip}:{port} failed: {error}") from error
    finally:
        sock.close()


def kexinit_findings(kexinit: KexInit, port: int) -> list[Finding]:
    """Findings about the algorithms a server offers (no network I/O)."""
    out = [
        Finding(
            QID_ALGORITHMS,
            port,
            "tcp",
            "\n".join(
                [
                    f"Key exchange: {', '.join(kexinit.kex)}",
                    f"Host keys: {', '.join(kexinit.host_key)}",
                    f"Ciphers: {', '.join(kexinit.ciphers)}",
                    f"MACs: {', '.join(kexinit.macs)}",
                    f"Compression: {', '.join(kexinit.compression)}",
                ]
            ),
        )
    ]

    def flag(qid: int, what: str, names: list[str]) -> None:
        if names:
            out.append(Finding(qid, port, "tcp", f"{what}: {', '.join(names)}"))

    flag(QID_WEAK_KEX, "SHA-1 key exchange", [k for k in kexinit.kex if k.endswith("-sha1")])
    cbc = [c for c in kexinit.ciphers if c.endswith("-cbc") or c == "rijndael-cbc@lysator.liu.se"]
    flag(QID_CBC, "CBC mode ciphers", cbc)
    weak = [c for c in kexinit.ciphers if c.startswith(WEAK_CIPHER_PREFIXES)]
    flag(QID_WEAK_CIPHER, "Weak ciphers", weak)
    flag(QID_WEAK_MAC, "Weak MACs", [m for m in kexinit.macs if m in WEAK_MACS])
    flag(QID_DSA_HOSTKEY, "DSA host key", [k for k in kexinit.host_key if k == "ssh-dss"])
    # Terrapin (CVE-2023-48795): ChaCha20-Poly1305, or an encrypt-then-MAC MAC with a
    # CBC cipher, without the "strict kex" countermeasure both sides must announce.
    chacha = [c for c in kexinit.ciphers if c == "chacha20-poly1305@openssh.com"]
    etm_cbc = [m for m in kexinit.macs if m.endswith("-etm@openssh.com")] if cbc else []
    strict = "kex-strict-s-v00@openssh.com" in kexinit.kex
    if (chacha or etm_cbc) and not strict:
        names = ", ".join(chacha + etm_cbc)
        out.append(
            Finding(QID_TERRAPIN, port, "tcp", f"Offers {names} without strict key exchange")
        )
    return out


class SSHCheck(Check):
    name = "ssh"

    def applies(self, service: Service) -> bool:
        return service.protocol == "tcp" and service.name == "ssh"

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        banner, kexinit = read_banner_and_kexinit(ip, service.port, timeout=timeout)
        service.banner = banner[:BANNER_LIMIT]  # kept in the service inventory
        findings = [Finding(QID_VERSION, service.port, "tcp", banner)]
        version = banner.split("-", 2)[1] if banner.count("-") >= 2 else ""
        if version.startswith("1."):  # "1.99" speaks both; "1.5" only the broken protocol 1
            findings.append(Finding(QID_PROTOCOL1, service.port, "tcp", f"Banner: {banner}"))
        if kexinit is not None:
            findings.extend(kexinit_findings(kexinit, service.port))
        return findings
