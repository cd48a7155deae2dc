"""TLS: the certificate (expired, not yet valid, self-signed, weak signature or key)
and what the server accepts (SSLv3, TLS 1.0/1.1, RC4, 3DES, NULL, EXPORT, anonymous)."""

from __future__ import annotations

import ssl
import warnings
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from core.results import Finding, Service

from . import tlsprobe
from .base import Check, CheckError, connect, is_tls

QID_EXPIRED = 38100
QID_SELF_SIGNED = 38101
QID_TLS10 = 38102
QID_TLS11 = 38103
QID_SSL3 = 38104
QID_RC4 = 38105
QID_3DES = 38106
QID_NULL = 38107
QID_EXPORT = 38108
QID_ANONYMOUS = 38109
QID_NOT_YET_VALID = 38110
QID_WEAK_SIGNATURE = 38111
QID_SHORT_KEY = 38112
QID_EXPIRES_SOON = 38113
QID_CERT_INFO = 38120
QID_PROTOCOLS_INFO = 38121

EXPIRY_WARNING = timedelta(days=30)
_VERSION_QIDS = {tlsprobe.SSL3: QID_SSL3, tlsprobe.TLS10: QID_TLS10, tlsprobe.TLS11: QID_TLS11}
_SUITE_GROUPS = (
    (QID_RC4, tlsprobe.RC4),
    (QID_3DES, tlsprobe.TRIPLE_DES),
    (QID_NULL, tlsprobe.NULL),
    (QID_EXPORT, tlsprobe.EXPORT),
    (QID_ANONYMOUS, tlsprobe.ANONYMOUS),
)


def fetch_certificate(ip: str, port: int, *, timeout: float) -> x509.Certificate | None:
    """The server's leaf certificate, whether or not it is valid; None if it sends none."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we want to see bad certificates, not reject them
    try:
        with warnings.catch_warnings():
            # Deprecated on purpose: old servers must still show us their certificate.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass  # this OpenSSL refuses old settings; the defaults still fetch most certificates
    sock = connect(ip, port, timeout)
    try:
        with context.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError) as error:
        raise CheckError(f"TLS handshake with {ip}:{port} failed: {error}") from error
    finally:
        sock.close()
    return x509.load_der_x509_certificate(der) if der else None


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the certificate's own key verifies its signature."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def describe(cert: x509.Certificate) -> str:
    key = cert.public_key()
    key_text = type(key).__name__.replace("PublicKey", "").lstrip("_")
    if isinstance(key, rsa.RSAPublicKey):
        key_text = f"RSA {key.key_size} bits"
    algorithm = cert.signature_hash_algorithm
    return "\n".join(
        [
            f"Subject: {cert.subject.rfc4514_string()}",
            f"Issuer: {cert.issuer.rfc4514_string()}",
            f"Serial: {cert.serial_number:x}",
            f"Not before: {cert.not_valid_before_utc.isoformat()}",
            f"Not after: {cert.not_valid_after_utc.isoformat()}",
            f"Signature hash: {algorithm.name if algorithm else 'none'}",
            f"Public key: {key_text}",
        ]
    )


def certificate_findings(
    cert: x509.Certificate, port: int, now: datetime | None = None
) -> list[Finding]:
    """Findings about one certificate (no network I/O)."""
    now = now or datetime.now(UTC)
    info = describe(cert)
    out = [Finding(QID_CERT_INFO, port, "tcp", info)]
    not_after, not_before = cert.not_valid_after_utc, cert.not_valid_before_utc
    if not_after < now:
        out.append(
            Finding(
                QID_EXPIRED,
                port,
                "tcp",
                f"Certificate expired on {not_after:%Y-%m-%d %H:%M:%S} UTC\n{info}",
            )
        )
    elif not_after < now + EXPIRY_WARNING:
        out.append(
            Finding(
                QID_EXPIRES_SOON,
                port,
                "tcp",
                f"Certificate expires on {not_after:%Y-%m-%d %H:%M:%S} UTC\n{info}",
            )
        )
    if not_before > now:
        out.append(
            Finding(
                QID_NOT_YET_VALID,
                port,
                "tcp",
                f"Certificate not valid before {not_before:%Y-%m-%d %H:%M:%S} UTC\n{info}",
            )
        )
    self_signed = is_self_signed(cert)
    if self_signed:
        out.append(Finding(QID_SELF_SIGNED, port, "tcp", f"Self-signed certificate\n{info}"))
    algorithm = cert.signature_hash_algorithm
    # A self-signed certificate's own signature is never checked by clients.
    if not self_signed and isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        out.append(
            Finding(QID_WEAK_SIGNATURE, port, "tcp", f"Signed with {algorithm.name}\n{info}")
        )
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        out.append(Finding(QID_SHORT_KEY, port, "tcp", f"RSA key of {key.key_size} bits\n{info}"))
    return out


class TLSCheck(Check):
    name = "tls"

    def applies(self, service: Service) -> bool:
        return service.protocol == "tcp" and is_tls(service)

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        port = service.port
        versions = tlsprobe.accepted_versions(ip, port, timeout=timeout)
        findings: list[Finding] = []
        cert = fetch_certificate(ip, port, timeout=timeout)
        if cert is not None:
            findings.extend(certificate_findings(cert, port))
        lines = []
        for version, hello in sorted(versions.items()):
            lines.append(f"{hello.version_name} accepted (chose {hello.suite_name})")
            if version in _VERSION_QIDS:
                evidence = f"{hello.version_name} handshake accepted, cipher {hello.suite_name}"
                findings.append(Finding(_VERSION_QIDS[version], port, "tcp", evidence))
        for qid, group in _SUITE_GROUPS:
            hello = tlsprobe.accepted_suites(ip, port, group, list(versions), timeout=timeout)
            if hello is not None:
                lines.append(f"{hello.version_name} {hello.suite_name} accepted")
                evidence = f"Accepted {hello.suite_name} with {hello.version_name}"
                findings.append(Finding(qid, port, "tcp", evidence))
        if lines:
            findings.append(Finding(QID_PROTOCOLS_INFO, port, "tcp", "\n".join(lines)))
        return findings
