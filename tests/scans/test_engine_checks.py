"""Check modules against real services the tests start on 127.0.0.1."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.results import Service
from scans.engine.checks import CHECKS, CheckError, ftp, http, redis, ssh, telnet, tls, tlsprobe

from . import test_engine_servers as servers
from .test_engine_servers import (
    LOOPBACK,
    SSH_ALGORITHMS,
    _serve,
    _TLSHTTPServer,
    free_port,
    http_handler,
    make_certificate,
    ssh_packet,
    tcp_server,
)

# Fixtures from the servers module (pytest finds fixtures among module attributes).
http_server = servers.http_server
expired_tls_server = servers.expired_tls_server
ssh_server = servers.ssh_server
ftp_server = servers.ftp_server
telnet_server = servers.telnet_server

TIMEOUT = 3.0


def qids(findings) -> set[int]:
    return {f.qid for f in findings}


def by_qid(findings, qid):
    return next(f for f in findings if f.qid == qid)


def test_registry_names_every_check_module():
    assert set(CHECKS) == {"info", "tls", "ssh", "http", "ftp", "telnet", "redis", "versions"}
    assert all(check.name == name for name, check in CHECKS.items())


# --- HTTP -------------------------------------------------------------------


def test_http_reports_version_missing_headers_listing_and_cookie(http_server):
    service = Service(port=http_server, protocol="tcp", name="http")
    findings = CHECKS["http"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    found = qids(findings)
    assert {
        http.QID_SERVER_INFO,
        http.QID_SERVER_VERSION,
        http.QID_NO_FRAME_OPTIONS,
        http.QID_NO_CSP,
        http.QID_NO_CONTENT_TYPE_OPTIONS,
        http.QID_DIRECTORY_LISTING,
        http.QID_COOKIE_NO_HTTPONLY,
    } <= found
    # Plain HTTP: HSTS and the Secure flag only matter over TLS; Python's server refuses TRACE.
    assert not found & {http.QID_NO_HSTS, http.QID_COOKIE_NO_SECURE, http.QID_TRACE}
    assert "SimpleHTTP/" in by_qid(findings, http.QID_SERVER_VERSION).results
    assert "X-Frame-Options" in by_qid(findings, http.QID_NO_FRAME_OPTIONS).results
    assert all(f.port == http_server and f.protocol == "tcp" for f in findings)


def test_http_headers_present_are_not_reported():
    response = http.Response(
        200,
        "OK",
        [
            ("Server", "nginx"),
            ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
            ("X-Content-Type-Options", "nosniff"),
            ("Strict-Transport-Security", "max-age=31536000"),
            ("Set-Cookie", "sid=1; Secure; HttpOnly"),
        ],
        b"<title>Home</title>",
    )
    assert qids(http.response_findings(response, 443, tls=True)) == {http.QID_SERVER_INFO}


def test_http_check_fails_cleanly_on_a_closed_port():
    service = Service(port=free_port(), protocol="tcp", name="http")
    with pytest.raises(CheckError):
        CHECKS["http"].check_service(LOOPBACK, service, timeout=TIMEOUT)


# --- TLS --------------------------------------------------------------------


def test_tls_expired_self_signed_tls10_and_null_ciphers(expired_tls_server):
    service = Service(port=expired_tls_server, protocol="tcp", name="http", tunnel="ssl")
    assert CHECKS["tls"].applies(service)
    findings = CHECKS["tls"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    found = qids(findings)
    assert {
        tls.QID_EXPIRED,
        tls.QID_SELF_SIGNED,
        tls.QID_CERT_INFO,
        tls.QID_TLS10,
        tls.QID_TLS11,
        tls.QID_NULL,
        tls.QID_PROTOCOLS_INFO,
    } <= found
    # Debian's OpenSSL has no SSLv3, RC4, 3DES or EXPORT suites to accept.
    assert not found & {tls.QID_SSL3, tls.QID_RC4, tls.QID_3DES, tls.QID_EXPORT}
    assert not found & {tls.QID_EXPIRES_SOON, tls.QID_NOT_YET_VALID, tls.QID_SHORT_KEY}
    assert "Not after:" in by_qid(findings, tls.QID_EXPIRED).results
    assert "NULL" in by_qid(findings, tls.QID_NULL).results


def test_tls_modern_server_is_clean(tmp_path):
    now = datetime.now(UTC)
    cert, key = make_certificate(
        tmp_path, not_before=now - timedelta(days=1), not_after=now + timedelta(days=365)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    server = _TLSHTTPServer((LOOPBACK, 0), http_handler(tmp_path))
    server.context = context
    for port in _serve(server):
        offer = list(tlsprobe.COMMON)
        hello = tlsprobe.negotiate(LOOPBACK, port, tlsprobe.TLS12, offer, timeout=TIMEOUT)
        assert hello is not None and hello.version_name == "TLSv1.2"
        service = Service(port=port, protocol="tcp", name="https")
        found = qids(CHECKS["tls"].check_service(LOOPBACK, service, timeout=TIMEOUT))
    # Still self-signed (no CA here), but nothing else is wrong with it.
    assert found == {tls.QID_CERT_INFO, tls.QID_SELF_SIGNED, tls.QID_PROTOCOLS_INFO}


def test_certificate_rules_on_dates_and_key_size(tmp_path):
    from cryptography import x509

    now = datetime.now(UTC)
    cert_path, _ = make_certificate(
        tmp_path, not_before=now + timedelta(days=2), not_after=now + timedelta(days=10),
        key_size=1024,
    )  # fmt: skip
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    found = qids(tls.certificate_findings(cert, 443, now=now))
    assert {tls.QID_NOT_YET_VALID, tls.QID_EXPIRES_SOON, tls.QID_SHORT_KEY} <= found
    assert tls.QID_EXPIRED not in found


def test_tls_probe_reads_no_serverhello_from_a_non_tls_service(ftp_server):
    assert tlsprobe.negotiate(LOOPBACK, ftp_server, tlsprobe.TLS12, [0x002F], timeout=1) is None


# --- SSH --------------------------------------------------------------------


def test_ssh_banner_and_weak_algorithms_from_kexinit(ssh_server):
    service = Service(port=ssh_server, protocol="tcp", name="ssh")
    findings = CHECKS["ssh"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    assert qids(findings) == {
        ssh.QID_VERSION,
        ssh.QID_ALGORITHMS,
        ssh.QID_WEAK_KEX,
        ssh.QID_CBC,
        ssh.QID_WEAK_CIPHER,
        ssh.QID_WEAK_MAC,
        ssh.QID_DSA_HOSTKEY,
        ssh.QID_TERRAPIN,
    }
    assert by_qid(findings, ssh.QID_VERSION).results == "SSH-2.0-OpenSSH_7.4"
    weak_kex = by_qid(findings, ssh.QID_WEAK_KEX).results
    assert "diffie-hellman-group1-sha1" in weak_kex and "curve25519" not in weak_kex
    assert "hmac-md5" in by_qid(findings, ssh.QID_WEAK_MAC).results
    assert "aes128-ctr" not in by_qid(findings, ssh.QID_CBC).results


def test_ssh_strict_kex_and_modern_algorithms_are_clean():
    kexinit = ssh.KexInit(
        kex=["curve25519-sha256", "kex-strict-s-v00@openssh.com"],
        host_key=["ssh-ed25519"],
        ciphers=["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"],
        macs=["hmac-sha2-256-etm@openssh.com"],
        compression=["none"],
    )
    assert qids(ssh.kexinit_findings(kexinit, 22)) == {ssh.QID_ALGORITHMS}


def test_ssh_protocol1_banner(tmp_path):
    def old_server(conn: socket.socket) -> None:
        conn.sendall(b"SSH-1.5-OpenSSH_2.2.0\r\n")
        conn.recv(64)

    for port in tcp_server(old_server):
        service = Service(port=port, protocol="tcp", name="ssh")
        found = qids(CHECKS["ssh"].check_service(LOOPBACK, service, timeout=TIMEOUT))
    assert found == {ssh.QID_VERSION, ssh.QID_PROTOCOL1}


def test_ssh_garbage_instead_of_kexinit_is_an_error():
    def broken(conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-Broken\r\n")
        conn.recv(64)
        conn.sendall(ssh_packet(b"\x05not a kexinit"))

    for port in tcp_server(broken):
        with pytest.raises(CheckError, match="KEXINIT"):
            ssh.read_banner_and_kexinit(LOOPBACK, port, timeout=TIMEOUT)


def test_kexinit_parser_reads_the_server_lists():
    from .test_engine_servers import kexinit_payload

    parsed = ssh.parse_kexinit(kexinit_payload(SSH_ALGORITHMS))
    assert parsed.kex == SSH_ALGORITHMS["kex"].split(",")
    assert parsed.host_key == ["ssh-rsa", "ssh-dss"]
    assert "arcfour" in parsed.ciphers


# --- FTP, Telnet, Redis --------------------------------------------------------


def test_ftp_anonymous_login_and_no_auth_tls(ftp_server):
    service = Service(port=ftp_server, protocol="tcp", name="ftp")
    findings = CHECKS["ftp"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    assert qids(findings) == {ftp.QID_BANNER, ftp.QID_ANONYMOUS, ftp.QID_CLEARTEXT}
    assert "vsFTPd 2.3.4" in by_qid(findings, ftp.QID_BANNER).results
    assert "230" in by_qid(findings, ftp.QID_ANONYMOUS).results


def test_ftp_refusing_anonymous_is_not_reported():
    def strict(conn: socket.socket) -> None:
        conn.sendall(b"220-Welcome\r\n220 Strict FTP\r\n")
        for reply in (b"211-Features:\r\n AUTH TLS\r\n211 End\r\n", b"530 No anonymous\r\n"):
            conn.recv(256)
            conn.sendall(reply)
        conn.recv(256)
        conn.sendall(b"221 Bye\r\n")

    for port in tcp_server(strict):
        service = Service(port=port, protocol="tcp", name="ftp")
        findings = CHECKS["ftp"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    assert qids(findings) == {ftp.QID_BANNER}
    assert "Strict FTP" in findings[0].results


def test_telnet_open_with_banner_evidence(telnet_server):
    service = Service(port=telnet_server, protocol="tcp", name="telnet")
    findings = CHECKS["telnet"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    assert qids(findings) == {telnet.QID_TELNET}
    assert "login:" in findings[0].results and "\xff" not in findings[0].results


def _redis_reachable() -> bool:
    try:
        with socket.create_connection((LOOPBACK, 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis on 127.0.0.1:6379")
def test_redis_without_auth_answers_ping():
    service = Service(port=6379, protocol="tcp", name="redis")
    findings = CHECKS["redis"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    assert qids(findings) == {redis.QID_NO_AUTH, redis.QID_INFO}
    assert "redis_version:" in by_qid(findings, redis.QID_NO_AUTH).results


def test_redis_requiring_auth_is_not_reported():
    def protected(conn: socket.socket) -> None:
        conn.recv(64)
        conn.sendall(b"-NOAUTH Authentication required.\r\n")

    for port in tcp_server(protected):
        service = Service(port=port, protocol="tcp", name="redis")
        findings = CHECKS["redis"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    assert qids(findings) == {redis.QID_INFO}
    assert "NOAUTH" in findings[0].results


def test_checks_apply_only_to_their_services():
    ssh_service = Service(port=22, protocol="tcp", name="ssh")
    https = Service(port=443, protocol="tcp", name="http", tunnel="ssl")
    assert CHECKS["ssh"].applies(ssh_service) and not CHECKS["http"].applies(ssh_service)
    assert CHECKS["http"].applies(https) and CHECKS["tls"].applies(https)
    assert not CHECKS["tls"].applies(ssh_service)
    assert not CHECKS["ftp"].applies(Service(port=990, protocol="tcp", name="ftp", tunnel="ssl"))


SSHD = Path("/usr/sbin/sshd")


@pytest.fixture
def real_sshd(tmp_path):
    """Debian's OpenSSH server on a free loopback port, default algorithms."""
    if not SSHD.exists() or not shutil.which("ssh-keygen"):
        pytest.skip("openssh-server is not installed")
    key = tmp_path / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"ListenAddress {LOOPBACK}\nPort {port}\nHostKey {key}\n"
        f"PidFile {tmp_path / 'sshd.pid'}\nUsePAM no\n"
    )
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):  # up within a few hundred milliseconds
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def test_ssh_check_reads_a_real_openssh_server(real_sshd):
    service = Service(port=real_sshd, protocol="tcp", name="ssh")
    findings = CHECKS["ssh"].check_service(LOOPBACK, service, timeout=TIMEOUT)
    found = qids(findings)
    assert by_qid(findings, ssh.QID_VERSION).results.startswith("SSH-2.0-OpenSSH_")
    algorithms = by_qid(findings, ssh.QID_ALGORITHMS).results
    assert "curve25519-sha256" in algorithms and "ssh-ed25519" in algorithms
    # A current sshd: strict key exchange, no CBC, SHA-1 kex, DSA or SSH-1.
    assert not found & {
        ssh.QID_TERRAPIN,
        ssh.QID_CBC,
        ssh.QID_WEAK_KEX,
        ssh.QID_DSA_HOSTKEY,
        ssh.QID_PROTOCOL1,
        ssh.QID_WEAK_CIPHER,
    }
