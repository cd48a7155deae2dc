"""Imports through the service: the network chosen, the same ingest as scans,
Fixed only within the file's source, re-import a no-op, refusals that write nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Host
from networks.models import Network
from scans.models import (
    IMPORTED_QID_BASE,
    Detection,
    DetectionStatus,
    KbSource,
    Scan,
    ScanKind,
    ScanStatus,
    Vulnerability,
)
from scans.services.imports import import_create, import_run
from tests.factories import NetworkFactory, VulnerabilityFactory
from tests.scans import import_samples as samples
from tests.scans.import_samples import Box, Vuln

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def acme(db):
    return NetworkFactory(name="Acme", space="10.0.0.0/16")


def run(network, data: bytes, name="scan.nessus", fmt="", actor=None) -> Scan:
    scan = import_create(
        actor=actor, network=network, file=SimpleUploadedFile(name, data), format=fmt
    )
    import_run(scan_id=scan.pk)
    scan.refresh_from_db()
    return scan


def one_host(*vulns, ip="10.0.0.5", **kw):
    return samples.nessus([Box(ip, vulns=list(vulns), **kw)])


def status(ip, external_id, source=KbSource.NESSUS, network=None):
    qs = Detection.objects.filter(
        host__ip=ip, vulnerability__source=source, vulnerability__external_id=external_id
    )
    if network is not None:
        qs = qs.filter(network=network)
    return qs.get().status


def test_import_records_like_a_scan_and_ingests(acme, scanner, media):
    data = one_host(
        Vuln("90317", severity=2, port=22),
        Vuln("19506", severity=0, port=0),
        name="web01.example.com",
        os="Linux",
    )
    scan = run(acme, data, actor=scanner)
    record = scan.import_file
    assert (scan.kind, scan.status, scan.network, scan.launched_by) == (
        ScanKind.IMPORT,
        ScanStatus.FINISHED,
        acme,
        scanner,
    )
    assert (record.format, record.filename, record.size, record.hosts, record.findings) == (
        "nessus",
        "scan.nessus",
        len(data),
        1,
        2,
    )
    assert record.progress == 100 and scan.hosts_found == 1 and not record.file
    assert not list((media / "imports").iterdir())  # the upload is dropped once done
    host = Host.objects.get(network=acme, ip="10.0.0.5")
    assert (host.dns, host.os) == ("web01.example.com", "Linux")
    assert status("10.0.0.5", "90317") == DetectionStatus.NEW
    v = Vulnerability.objects.get(source=KbSource.NESSUS, external_id="90317")
    assert v.qid >= IMPORTED_QID_BASE and v.severity == 3
    acme.refresh_from_db()
    assert acme.host_count == 1
    assert scan.scan_hosts.get().findings_total == 2


def test_statuses_move_and_fixed_only_within_the_source(acme):
    # An Enclave finding on the same host must not be fixed by a Nessus import.
    enclave = VulnerabilityFactory(qid=938001, severity=2, check_name="tls")
    run(acme, one_host(Vuln("1", port=443), Vuln("2", port=80)), name="a.nessus")
    host = Host.objects.get(network=acme, ip="10.0.0.5")
    Detection.objects.create(
        network=acme, host=host, vulnerability=enclave, port=8443, protocol="tcp", severity=2
    )
    run(acme, one_host(Vuln("1", port=443, output="again")), name="b.nessus")
    assert status("10.0.0.5", "1") == DetectionStatus.ACTIVE
    assert status("10.0.0.5", "2") == DetectionStatus.FIXED  # covered host, not reported
    assert Detection.objects.get(vulnerability=enclave).status == DetectionStatus.NEW
    run(acme, one_host(Vuln("1", port=443), Vuln("2", port=80, output="back")), name="c.nessus")
    assert status("10.0.0.5", "2") == DetectionStatus.REOPENED
    # A host the file does not hold is not covered: its findings stay open.
    run(acme, samples.nessus([Box("10.0.0.9", vulns=[Vuln("1")])]), name="d.nessus")
    assert status("10.0.0.5", "1") == DetectionStatus.ACTIVE


def test_another_source_does_not_fix_nessus_findings(acme):
    run(acme, one_host(Vuln("38170", port=443)))
    run(
        acme,
        samples.qualys_report([Box("10.0.0.5", vulns=[Vuln("38170", port=443)])]),
        name="q.xml",
    )
    # The same number in another source is another KB entry: two detections.
    assert status("10.0.0.5", "38170", KbSource.NESSUS) == DetectionStatus.NEW
    assert status("10.0.0.5", "38170", KbSource.QUALYS) == DetectionStatus.NEW
    run(acme, samples.qualys_report([Box("10.0.0.5", vulns=[])]), name="q2.xml")
    assert status("10.0.0.5", "38170", KbSource.QUALYS) == DetectionStatus.FIXED
    assert status("10.0.0.5", "38170", KbSource.NESSUS) == DetectionStatus.NEW


def test_importing_the_same_file_twice_changes_nothing(acme):
    data = one_host(Vuln("1", port=443))
    first = run(acme, data)
    before = list(Detection.objects.values_list("status", "times_found", "last_found"))
    second = run(acme, data, name="copy.nessus")
    assert second.status == ScanStatus.FINISHED
    assert second.import_file.duplicate_of == first
    assert f"import #{first.pk}" in second.status_reason
    assert list(Detection.objects.values_list("status", "times_found", "last_found")) == before
    assert second.scan_hosts.count() == 0
    # Into another network the same file is another import.
    other = NetworkFactory(name="Other", space="10.0.0.0/16")
    third = run(other, data)
    assert third.import_file.duplicate_of is None and third.hosts_found == 1


def test_the_same_ip_in_two_networks_stays_two_hosts(acme):
    beta = NetworkFactory(name="Beta", space="10.0.0.0/8")
    run(acme, one_host(Vuln("1")))
    run(beta, one_host(Vuln("1"), Vuln("2")), name="beta.nessus")
    assert Host.objects.filter(ip="10.0.0.5").count() == 2
    assert Detection.objects.filter(network=acme).count() == 1
    assert Detection.objects.filter(network=beta).count() == 2


def test_hosts_outside_the_network_refused_with_their_names(acme):
    data = samples.nessus(
        [Box("10.0.0.5", vulns=[Vuln("1")])]
        + [Box(f"192.168.7.{n}", vulns=[Vuln("1")]) for n in range(1, 13)]
    )
    scan = run(acme, data)
    assert scan.status == ScanStatus.ERROR
    assert "12 host(s) of the file lie outside the address space of network 'Acme'" in (
        scan.status_reason
    )
    assert "192.168.7.1, 192.168.7.2" in scan.status_reason and "and 2 more" in scan.status_reason
    assert not Host.objects.exists() and not Detection.objects.exists()
    assert not Vulnerability.objects.filter(source=KbSource.NESSUS).exists()


def test_global_default_accepts_any_address():
    default = Network.objects.global_default()
    scan = run(default, samples.nessus([Box("203.0.113.9", vulns=[Vuln("1")])]))
    assert scan.status == ScanStatus.FINISHED and scan.hosts_found == 1


def test_hosts_without_a_usable_ip_are_skipped_and_listed(acme):
    data = samples.qualys_report(
        [
            Box("10.0.0.5", vulns=[Vuln("38170")]),
            Box("", name="laptop.example.com", vulns=[Vuln("38170")]),
            Box("192.168.1.1001", vulns=[Vuln("38170")]),
        ]
    )
    scan = run(acme, data, name="q.xml")
    assert scan.status == ScanStatus.FINISHED and scan.hosts_found == 1
    assert scan.import_file.skipped == [
        {
            "host": "laptop.example.com",
            "reason": "host name only ('laptop.example.com'), no IP address",
        },
        {"host": "192.168.1.1001", "reason": "'192.168.1.1001' is not a valid IP address"},
    ]


def test_a_malformed_file_writes_nothing_and_names_the_line(acme):
    data = one_host(Vuln("1"), Vuln("2"))
    scan = run(acme, data[: len(data) - 40])
    assert scan.status == ScanStatus.ERROR
    assert "Not well-formed XML at line" in scan.status_reason
    assert not Host.objects.exists() and not Vulnerability.objects.filter(source="nessus").exists()
    bad = one_host(Vuln("1", port=99999))
    scan = run(acme, bad, name="bad.nessus")
    assert "<ReportItem> 1: port '99999'" in scan.status_reason
    assert not Host.objects.exists()


def test_refusals_at_upload(acme, settings):
    def create(**kw):
        args = {"actor": None, "network": acme, "file": SimpleUploadedFile("a.xml", b"<x/>")}
        return import_create(**{**args, **kw})

    with pytest.raises(ValidationError) as error:
        create(network=None)
    assert "network" in error.value.message_dict
    with pytest.raises(ValidationError, match="root element is <x>"):
        create()
    with pytest.raises(ValidationError, match="You chose nmap XML, but the file is Nessus"):
        create(file=SimpleUploadedFile("a.nessus", one_host()), format="nmap")
    settings.ENCLAVE_IMPORT_MAX_BYTES = 10
    with pytest.raises(ValidationError, match=r"up to 10 bytes \(ENCLAVE_IMPORT_MAX_BYTES\)"):
        create(file=SimpleUploadedFile("a.nessus", one_host()))
    assert not Scan.objects.exists()


def test_qualys_details_are_not_overwritten_by_detection_output(acme):
    run(
        acme,
        samples.qualys_report(
            [Box("10.0.0.5", vulns=[Vuln("38170", title="Cert mismatch", severity=2)])]
        ),
        name="r.xml",
    )
    run(
        acme,
        samples.qualys_detections([Box("10.0.0.6", vulns=[Vuln("38170", severity=2)])]),
        name="d.xml",
    )
    v = Vulnerability.objects.get(source=KbSource.QUALYS, external_id="38170")
    assert v.title == "Cert mismatch"
    d = Detection.objects.get(host__ip="10.0.0.6")
    assert d.first_found.year == 2024 and d.last_found.month == 6  # the file's own dates


def test_nmap_version_facts_use_enclave_qids_and_fix_by_the_versions_check(acme):
    from scans.services import kb_load

    kb_load()
    old = samples.nmap_xml(
        [
            {
                "ip": "10.0.0.7",
                "ports": [(22, "tcp", "ssh", "OpenSSH", "7.4", [("ssh-hostkey", "k")])],
            }
        ]
    )
    run(acme, old, name="n1.xml")
    enclave = Detection.objects.filter(vulnerability__source=KbSource.ENCLAVE)
    assert enclave.filter(vulnerability_id=38703).exists()
    assert status("10.0.0.7", "ssh-hostkey", KbSource.NMAP) == DetectionStatus.NEW
    new = samples.nmap_xml(
        [{"ip": "10.0.0.7", "ports": [(22, "tcp", "ssh", "OpenSSH", "9.9p2", [])]}]
    )
    run(acme, new, name="n2.xml")
    assert set(enclave.values_list("status", flat=True)) == {DetectionStatus.FIXED}
    assert status("10.0.0.7", "ssh-hostkey", KbSource.NMAP) == DetectionStatus.FIXED


def test_a_host_named_twice_in_one_file_is_one_host(acme):
    data = samples.nessus([Box("10.0.0.5", vulns=[Vuln("1")]), Box("10.0.0.5", vulns=[Vuln("2")])])
    scan = run(acme, data)
    assert scan.hosts_found == 1 and scan.import_file.findings == 2
    assert status("10.0.0.5", "1") == status("10.0.0.5", "2") == DetectionStatus.NEW


def test_a_redelivered_task_resumes_and_a_finished_one_does_nothing(acme, monkeypatch):
    from scans.services import imports

    monkeypatch.setattr(imports, "BATCH_HOSTS", 2)
    data = samples.nessus([Box(f"10.0.0.{n}", vulns=[Vuln("1")]) for n in range(1, 6)])
    scan = import_create(actor=None, network=acme, file=SimpleUploadedFile("a.nessus", data))
    calls = []
    real = imports.hosts_ingest

    def dies_on_second_batch(**kw):
        calls.append(len(kw["hosts"]))
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(**kw)

    monkeypatch.setattr(imports, "hosts_ingest", dies_on_second_batch)
    with pytest.raises(RuntimeError):
        import_run(scan_id=scan.pk)
    assert Host.objects.count() == 2
    monkeypatch.setattr(imports, "hosts_ingest", real)
    import_run(scan_id=scan.pk)  # redelivery: batches 2 and 3 only
    scan.refresh_from_db()
    assert scan.status == ScanStatus.FINISHED and Host.objects.count() == 5
    assert Detection.objects.filter(times_found=1).count() == 5
    import_run(scan_id=scan.pk)
    assert Detection.objects.filter(times_found=1).count() == 5
