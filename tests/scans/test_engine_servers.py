"""Real services on 127.0.0.1 for the engine tests to scan (this module holds no tests).

Each server listens on a free loopback port, serves from a daemon thread and
is closed by its fixture. Nothing here touches any address but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import ssl
import struct
import threading
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"

SSH_BANNER = b"SSH-2.0-OpenSSH_7.4\r\n"
SSH_ALGORITHMS = {
    "kex": "curve25519-sha256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
    "host_key": "ssh-rsa,ssh-dss",
    "ciphers": "chacha20-poly1305@openssh.com,aes128-ctr,aes128-cbc,3des-cbc,arcfour",
    "macs": "hmac-sha2-256,hmac-md5,hmac-sha1-96",
    "compression": "none,zlib@openssh.com",
}
FTP_BANNER = b"220 (vsFTPd 2.3.4)\r\n"


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(server: socketserver.BaseServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A threaded server on 127.0.0.1 calling ``handle(conn)`` per connection; yields the port."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(10)
            with contextlib.suppress(OSError):
                handle(self.request)

    yield from _serve(_TCPServer((LOOPBACK, 0), Handler))


# --- SSH: banner + a real KEXINIT packet -------------------------------------


def kexinit_payload(algorithms: dict[str, str]) -> bytes:
    def name_list(text: str) -> bytes:
        return struct.pack("!I", len(text)) + text.encode()

    lists = [
        algorithms["kex"],
        algorithms["host_key"],
        algorithms["ciphers"],
        algorithms["ciphers"],
        algorithms["macs"],
        algorithms["macs"],
        algorithms["compression"],
        algorithms["compression"],
        "",
        "",
    ]
    return bytes([20]) + os.urandom(16) + b"".join(map(name_list, lists)) + b"\x00" + b"\0" * 4


def ssh_packet(payload: bytes) -> bytes:
    """RFC 4253 binary packet, unencrypted: length, padding length, payload, padding."""
    padding = 8 - (len(payload) + 5) % 8
    padding += 8 if padding < 4 else 0
    body = bytes([padding]) + payload + os.urandom(padding)
    return struct.pack("!I", len(body)) + body


def _ssh_session(conn: socket.socket, algorithms: dict[str, str]) -> None:
    conn.sendall(SSH_BANNER)
    client = conn.recv(256)  # the client's banner; nmap's -sV sends none and hangs up
    if client.startswith(b"SSH-"):
        conn.sendall(ssh_packet(kexinit_payload(algorithms)))
        conn.recv(4096)


@pytest.fixture
def ssh_server() -> Iterator[int]:
    yield from tcp_server(partial(_ssh_session, algorithms=SSH_ALGORITHMS))


# --- FTP: enough of RFC 959 for a banner, FEAT and an anonymous login ------------


def _ftp_session(conn: socket.socket) -> None:
    conn.sendall(FTP_BANNER)
    buffer = b""
    while True:
        chunk = conn.recv(1024)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"FEAT":
                conn.sendall(b"211-Features:\r\n EPSV\r\n PASV\r\n211 End\r\n")
            elif verb == b"USER":
                conn.sendall(b"331 Please specify the password.\r\n")
            elif verb == b"PASS":
                conn.sendall(b"230 Login successful.\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 Goodbye.\r\n")
                return
            else:
                conn.sendall(b"500 Unknown command.\r\n")


@pytest.fixture
def ftp_server() -> Iterator[int]:
    yield from tcp_server(_ftp_session)


# --- Telnet: option negotiation then a login prompt ---------------------------


def _telnet_session(conn: socket.socket) -> None:
    # IAC DO TERMINAL-TYPE, IAC DO NAWS, IAC WILL ECHO: what a Linux telnetd opens with.
    conn.sendall(b"\xff\xfd\x18\xff\xfd\x1f\xff\xfb\x01" + b"Debian GNU/Linux 12\r\nlogin: ")
    conn.recv(1024)


@pytest.fixture
def telnet_server() -> Iterator[int]:
    yield from tcp_server(_telnet_session)


# --- HTTP and HTTPS ---------------------------------------------------------


class _CookieHandler(SimpleHTTPRequestHandler):
    """Python's file server (no security headers, directory listing) plus a cookie."""

    def end_headers(self) -> None:
        self.send_header("Set-Cookie", "session=abc123; Path=/")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


def http_handler(directory: Path) -> type[SimpleHTTPRequestHandler]:
    return partial(_CookieHandler, directory=str(directory))  # type: ignore[return-value]


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[int]:
    root = tmp_path / "http"  # its own directory: other fixtures of a test share tmp_path
    root.mkdir()
    (root / "backup.sql").write_text("-- not for the public\n")
    yield from _serve(QuietHTTPServer((LOOPBACK, 0), http_handler(root)))


def make_certificate(
    directory: Path, *, not_before: datetime, not_after: datetime, key_size: int = 2048
) -> tuple[Path, Path]:
    """A self-signed certificate and key, written as PEM files; returns (cert, key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclave-test.invalid")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def weak_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Accepts TLS 1.0 and NULL ciphers, as old appliances do."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("ALL:NULL-SHA256:NULL-SHA:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old on purpose
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.load_cert_chain(cert, key)
    return context


class QuietHTTPServer(ThreadingHTTPServer):
    """Python's HTTP server without tracebacks for clients that hang up (port scans do)."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class _TLSHTTPServer(QuietHTTPServer):
    """HTTPS whose handshake runs in the request thread, so a silent client blocks nobody."""

    context: ssl.SSLContext

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:
            return  # probes that hang up after the ServerHello, port scans
        super().finish_request(tls, client_address)


@pytest.fixture
def expired_tls_server(tmp_path: Path) -> Iterator[int]:
    """HTTPS with an expired self-signed certificate, TLS 1.0 and NULL ciphers allowed."""
    root = tmp_path / "https"
    root.mkdir()
    now = datetime.now(UTC)
    cert, key = make_certificate(
        root, not_before=now - timedelta(days=400), not_after=now - timedelta(days=35)
    )
    (root / "index.html").write_text("<html><title>Appliance</title></html>")
    server = _TLSHTTPServer((LOOPBACK, 0), http_handler(root))
    server.context = weak_server_context(cert, key)
    yield from _serve(server)


def free_port() -> int:
    """A loopback port nobody listens on (closed right after being picked)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]
