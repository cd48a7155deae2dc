"""Real services on loopback for end-to-end scans: HTTP, and TLS with an expired
self-signed certificate made here. Nothing listens beyond 127.0.0.0/8."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import random
import socketserver
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def loopback_ip() -> str:
    """A random 127.x.y.z, so parallel runs do not scan each other's services."""
    return f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"


def expired_self_signed(directory: Path, ip: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclave-test.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now - datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
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


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server:
    """An HTTP(S) server in a thread; stop() and start() again on the same port."""

    def __init__(
        self, ip: str, ports: tuple[int, ...] = (0,), tls: tuple[Path, Path] | None = None
    ):
        # Well-known ports first: without nmap -sV a port's service name comes
        # from nmap's table (8443 is "https-alt"), which is what checks look at.
        self.ip, self.ports, self.tls = ip, ports, tls
        self.port = 0
        self.httpd = None

    def _bind(self) -> http.server.ThreadingHTTPServer:
        if self.port:
            return http.server.ThreadingHTTPServer((self.ip, self.port), _Quiet)
        for port in self.ports:
            try:
                return http.server.ThreadingHTTPServer((self.ip, port), _Quiet)
            except OSError:
                continue
        return http.server.ThreadingHTTPServer((self.ip, 0), _Quiet)

    def _wrap(self, httpd):
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            # Handshake in the request thread: a port scan's bare connect must
            # not block the accept loop.
            httpd.socket = context.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        return httpd

    def start(self) -> Server:
        httpd = self._wrap(self._bind())
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self.httpd = httpd
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


class _Banner(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(5)
        try:
            if self.server.tls_context is not None:
                sock = self.server.tls_context.wrap_socket(sock, server_side=True)
            sock.sendall(self.server.banner)
            while sock.recv(4096):  # answer nothing more; wait for the client to go
                pass
        except (OSError, ssl.SSLError):
            pass


class _ReusableTCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # restart on the same port at once


class BannerServer(Server):
    """A line-based service that greets first (as POP3 does), optionally in TLS.

    nmap's service detection names a greeting service at once, where a web
    server costs it a 6 s wait for a banner that never comes.
    """

    def __init__(self, ip, ports=(0,), tls=None, banner=b"+OK Dovecot ready.\r\n"):
        super().__init__(ip, ports, tls)
        self.banner = banner

    def _bind(self):
        candidates = (self.port,) if self.port else (*self.ports, 0)
        error = None
        for port in candidates:
            try:
                server = _ReusableTCPServer((self.ip, port), _Banner)
                break
            except OSError as exc:
                error = exc
        else:
            raise error
        server.daemon_threads = True
        server.banner = self.banner
        server.tls_context = None
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.tls_context = context
        return server

    def start(self) -> Server:
        server = self._bind()
        self.port = server.server_address[1]
        self.httpd = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        return self
