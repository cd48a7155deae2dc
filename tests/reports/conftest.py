import pytest

from tests.factories import (
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    TagFactory,
    VulnerabilityFactory,
)
from tests.reports.factories import asset_group_with_ranges
from tests.reports.smtp import smtp_down, smtp_server  # noqa: F401 - fixtures of this folder


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Report files go to a fresh MEDIA_ROOT per test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def twin_networks(db):
    """Two networks holding the same IP 10.0.0.5, each with its own findings, plus a
    host only in the first (10.0.0.9) and one outside every target (10.9.9.9)."""
    alpha = NetworkFactory(name="Alpha Corp", space="10.0.0.0/16")
    beta = NetworkFactory(name="Beta Inc", space="10.0.0.0/16")
    ssl = VulnerabilityFactory(
        qid=38170,
        title="SSL Certificate Expired",
        severity=4,
        cves=["CVE-2024-0001"],
        solution="Renew the certificate.",
    )
    telnet = VulnerabilityFactory(
        qid=38001, title="Telnet Service Enabled", severity=3, solution="Disable telnet."
    )
    banner = VulnerabilityFactory(qid=45017, title="OS Banner Detected", severity=1, kind="info")
    alpha5 = HostFactory(network=alpha, ip="10.0.0.5", dns="web.alpha.example", os="Debian 12")
    beta5 = HostFactory(network=beta, ip="10.0.0.5", dns="db.beta.example", os="Windows 2022")
    alpha9 = HostFactory(network=alpha, ip="10.0.0.9", dns="mail.alpha.example")
    far = HostFactory(network=beta, ip="10.9.9.9")
    DetectionFactory(host=alpha5, vulnerability=ssl, port=443, protocol="tcp", status="active")
    DetectionFactory(host=beta5, vulnerability=telnet, port=23, protocol="tcp", status="new")
    DetectionFactory(host=beta5, vulnerability=banner, status="active")
    DetectionFactory(host=alpha9, vulnerability=telnet, port=23, protocol="tcp", status="reopened")
    DetectionFactory(host=alpha9, vulnerability=ssl, port=8443, protocol="tcp", status="fixed")
    DetectionFactory(host=far, vulnerability=ssl, port=443, protocol="tcp", status="active")
    tag = TagFactory(name="dmz")
    return {
        "alpha": alpha,
        "beta": beta,
        "alpha5": alpha5,
        "beta5": beta5,
        "alpha9": alpha9,
        "far": far,
        "tag": tag,
        "alpha_group": asset_group_with_ranges(network=alpha, title="Alpha LAN", ips="10.0.0.0/24"),
        "beta_group": asset_group_with_ranges(network=beta, title="Beta LAN", ips="10.0.0.0/24"),
        "ssl": ssl,
        "telnet": telnet,
        "banner": banner,
    }
