"""Real services for the lab's hosts, and the small parsers the checks use."""

from __future__ import annotations

import datetime
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from .system import SSHD, NetLabError, run

TLS_SERVICE = Path(__file__).resolve().with_name("tls_service.py")

# What each kind of service listens on, inside its host's namespace.
SERVICE_PORTS = {"http": 80, "ssh": 22, "tls-expired": 443}


def service_argv(kind: str, folder: Path, *, ip: str, label: str) -> list[str]:
    """The command that runs a service of ``kind`` on ``ip``; its files go in ``folder``."""
    port = str(SERVICE_PORTS[kind])
    page = f"<!doctype html><title>{label}</title><p>Enclave lab: {label}.</p>\n"
    if kind == "http":
        (folder / "index.html").write_text(page)
        return [sys.executable, "-m", "http.server", port, "--bind", ip, "--directory", str(folder)]
    if kind == "ssh":
        return sshd_argv(folder, ip=ip, port=port)
    if kind == "tls-expired":
        cert, key = write_expired_certificate(folder, common_name=label.replace(" ", "-"))
        www = folder / "www"
        www.mkdir()
        (www / "index.html").write_text(page)
        return [sys.executable, str(TLS_SERVICE), "--bind", ip, "--port", port,
                "--cert", str(cert), "--key", str(key), "--directory", str(www)]  # fmt: skip
    raise NetLabError(f"unknown service kind {kind!r}")


def sshd_argv(folder: Path, *, ip: str, port: str) -> list[str]:
    """Debian's sshd with its own host key and config; it lets nobody log in."""
    key = folder / "ssh_host_ed25519_key"
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress {ip}\nHostKey {key}\nPidFile none\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin no\nAuthorizedKeysFile none\nStrictModes no\n"
        "AllowUsers nobody-in-the-lab\nLogLevel ERROR\n"
    )
    # sshd's compiled-in privilege-separation folder; systemd makes it only when
    # the machine's own sshd runs.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    return [SSHD, "-D", "-e", "-f", str(config)]


def parse_nmap_open_ports(xml_text: str) -> dict[str, dict[int, str]]:
    hosts: dict[str, dict[int, str]] = {}
    root = ET.fromstring(xml_text)  # noqa: S314 - our own nmap's output
    for host in root.iter("host"):
        addr = host.find("address[@addrtype='ipv4']")
        if addr is None:
            continue
        ports = {}
        for port in host.iter("port"):
            state = port.find("state")
            if state is not None and state.get("state") == "open":
                service = port.find("service")
                ports[int(port.get("portid"))] = (
                    service.get("name", "") if service is not None else ""
                )
        hosts[addr.get("addr")] = ports
    return hosts


def write_expired_certificate(folder: Path, *, common_name: str) -> tuple[Path, Path]:
    """A self-signed certificate that expired years ago, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    not_before = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "expired.crt", folder / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path
