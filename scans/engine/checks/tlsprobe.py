"""Hand-built TLS ClientHellos: which protocol versions and cipher suites a server accepts.

The local OpenSSL cannot tell us this: Debian's build refuses SSLv3, RC4,
3DES and EXPORT suites however its security level is set. A scanner asks
with raw bytes instead and reads only the ServerHello, the way sslscan and
testssl.sh do; no key exchange happens, so no suite needs to exist locally.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from .base import CheckError, connect, recv_exact

SSL3, TLS10, TLS11, TLS12 = 0x0300, 0x0301, 0x0302, 0x0303
VERSION_NAMES = {SSL3: "SSLv3", TLS10: "TLSv1.0", TLS11: "TLSv1.1", TLS12: "TLSv1.2"}

# IANA cipher suite numbers, grouped by why a scanner cares about them.
RC4 = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
}
TRIPLE_DES = {
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
}
NULL = {
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
}
EXPORT = {
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0062: "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA",
    0x0064: "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
}
ANONYMOUS = {
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
    0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
}
# What a real client offers: used to learn which protocol versions are accepted.
COMMON = {
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    **TRIPLE_DES,
    **RC4,
}
SUITE_NAMES = {**RC4, **TRIPLE_DES, **NULL, **EXPORT, **ANONYMOUS, **COMMON}

_AEAD = {0xC02F, 0xC030, 0xC02B, 0xC02C, 0xCCA8, 0xCCA9, 0x009C, 0x009D}
_RENEGOTIATION_SCSV = 0x00FF  # lets servers that insist on secure renegotiation answer
_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019)  # x25519, secp256r1, secp384r1, secp521r1
_SIGNATURE_ALGORITHMS = (
    0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0201, 0x0203,
)  # fmt: skip


@dataclass(frozen=True)
class ServerHello:
    version: int
    suite: int

    @property
    def version_name(self) -> str:
        return VERSION_NAMES.get(self.version, f"0x{self.version:04x}")

    @property
    def suite_name(self) -> str:
        return SUITE_NAMES.get(self.suite, f"0x{self.suite:04x}")


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def client_hello(version: int, suites: list[int]) -> bytes:
    """One TLS record holding a ClientHello that offers ``version`` and ``suites``."""
    ciphers = b"".join(struct.pack("!H", s) for s in [*suites, _RENEGOTIATION_SCSV])
    body = struct.pack("!H", version) + os.urandom(32) + b"\x00"  # no session id
    body += struct.pack("!H", len(ciphers)) + ciphers + b"\x01\x00"  # null compression
    if version >= TLS10:  # SSLv3 predates extensions
        groups = b"".join(struct.pack("!H", g) for g in _GROUPS)
        extensions = _extension(0x000A, struct.pack("!H", len(groups)) + groups)
        extensions += _extension(0x000B, b"\x01\x00")  # uncompressed EC points
        if version >= TLS12:
            sigs = b"".join(struct.pack("!H", s) for s in _SIGNATURE_ALGORITHMS)
            extensions += _extension(0x000D, struct.pack("!H", len(sigs)) + sigs)
        body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    # The record layer says TLS 1.0 at most: some old servers drop higher record versions.
    return struct.pack("!BHH", 0x16, min(version, TLS10), len(handshake)) + handshake


def negotiate(
    ip: str, port: int, version: int, suites: list[int], *, timeout: float
) -> ServerHello | None:
    """The server's choice for this offer, or None when it refuses it.

    CheckError only when the server cannot be reached at all.
    """
    sock = connect(ip, port, timeout)
    try:
        sock.sendall(client_hello(version, suites))
        try:
            header = recv_exact(sock, 5)
        except CheckError:
            return None  # closed or silent after our hello: a refusal
        kind, _record_version, length = struct.unpack("!BHH", header)
        if kind != 0x16 or length < 40:  # an alert (0x15), or not TLS at all
            return None
        try:
            record = recv_exact(sock, min(length, 16384))
        except CheckError:
            return None
        if record[0] != 0x02:  # not a ServerHello
            return None
        server_version = struct.unpack("!H", record[4:6])[0]
        session_id_length = record[38]
        offset = 39 + session_id_length
        if len(record) < offset + 2:
            return None
        suite = struct.unpack("!H", record[offset : offset + 2])[0]
    except OSError as error:
        raise CheckError(f"TLS probe of {ip}:{port} failed: {error}") from error
    finally:
        sock.close()
    # A server that answers with another version or a suite we never offered did not
    # accept this offer (some stacks answer a TLS 1.0 hello with a TLS 1.2 hello).
    if server_version != version or suite not in suites:
        return None
    return ServerHello(server_version, suite)


def accepted_versions(ip: str, port: int, *, timeout: float) -> dict[int, ServerHello]:
    """SSLv3 .. TLS 1.2, each mapped to the server's answer if it accepts that version."""
    out: dict[int, ServerHello] = {}
    for version in (SSL3, TLS10, TLS11, TLS12):
        # GCM and ChaCha20 suites exist only from TLS 1.2 on.
        suites = [s for s in COMMON if version == TLS12 or s not in _AEAD]
        hello = negotiate(ip, port, version, suites, timeout=timeout)
        if hello is not None:
            out[version] = hello
    return out


def accepted_suites(
    ip: str, port: int, group: dict[int, str], versions: list[int], *, timeout: float
) -> ServerHello | None:
    """The first suite of ``group`` the server picks, trying each accepted version."""
    for version in sorted(versions, reverse=True):
        hello = negotiate(ip, port, version, list(group), timeout=timeout)
        if hello is not None:
            return hello
    return None
