"""An nmap XML file made by the real nmap here (-sV and the NSE "banner" script against
an SSH-like service on loopback), imported: host, service, script output, and the
engine's version rules on what nmap detected."""

import shutil
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Host
from scans.engine.checks.versions import RULES
from scans.models import Detection, KbSource, ScanStatus
from scans.services.imports import import_create, import_run
from tests.scans.servers import BannerServer, loopback_ip

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed"),
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_real_nmap_output_imports_with_scripts_and_version_facts(lab, tmp_path):
    ip = loopback_ip()
    server = BannerServer(ip, banner=b"SSH-2.0-OpenSSH_7.4\r\n").start()
    try:
        out = tmp_path / "scan.xml"
        subprocess.run(
            ["nmap", "-n", "-Pn", "-sT", "-sV", "--script", "banner", "-p", str(server.port)]
            + ["-oX", str(out), ip],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        server.stop()
    data = out.read_bytes()
    assert b"<nmaprun" in data and b'id="banner"' in data

    scan = import_create(actor=None, network=lab, file=SimpleUploadedFile("scan.xml", data))
    assert scan.import_file.format == "nmap"  # detected
    import_run(scan_id=scan.pk)
    scan.refresh_from_db()
    assert scan.status == ScanStatus.FINISHED, scan.status_reason
    host = Host.objects.get(network=lab, ip=ip)
    (seen,) = scan.scan_hosts.get(host=host).services
    assert (seen["port"], seen["protocol"], seen["name"]) == (server.port, "tcp", "ssh")
    assert seen["product"].startswith("OpenSSH 7.4")
    banner = Detection.objects.get(host=host, vulnerability__source=KbSource.NMAP)
    assert banner.vulnerability.external_id == "banner"
    assert (banner.port, banner.protocol, banner.severity) == (server.port, "tcp", 1)
    assert "SSH-2.0-OpenSSH_7.4" in banner.results
    expected = {r.qid for r in RULES if r.matches("OpenSSH", "7.4")}
    versions = Detection.objects.filter(host=host, vulnerability__source=KbSource.ENCLAVE)
    assert set(versions.values_list("vulnerability_id", flat=True)) == expected
    assert all("OpenSSH 7.4" in d.results for d in versions)
