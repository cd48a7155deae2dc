"""Feed imports into the database, and re-evaluation of stored inventories.

Files are written by the tests in the real formats (tests/scans/feed_samples.py)
and go through ``manage.py kb_import`` or the services the upload page calls.
"""

from __future__ import annotations

import copy
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.results import HostResult, Service, SliceResult
from scans import services
from scans.models import (
    IMPORTED_QID_BASE,
    CveIntel,
    Detection,
    DetectionStatus,
    FeedCve,
    FeedImport,
    KbSource,
    Scan,
    ScanKind,
    ScanStatus,
    Vulnerability,
)
from scans.services.evaluation import feed_evaluate, feed_evaluation_queue
from scans.services.feeds import feed_import_file
from tests.factories import VulnerabilityFactory

from . import feed_samples as samples

pytestmark = pytest.mark.django_db


def kb_import(*paths, evaluate=True) -> str:
    out = StringIO()
    args = [str(p) for p in paths] + ([] if evaluate else ["--no-evaluate"])
    call_command("kb_import", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def openssh(version: str, port: int = 22) -> Service:
    return Service(
        port=port,
        protocol="tcp",
        name="ssh",
        product="OpenSSH",
        version=version,
        extrainfo="protocol 2.0",
        cpes=[f"cpe:/a:openbsd:openssh:{version}"],
    )


def scan(lab, hosts: dict[str, list[Service]]):
    launched = services.scan_launch(
        actor=None, title="t", type="vulnerability", network=lab, targets="127.0.0.1-127.0.0.9"
    )
    piece = launched.slices.get()
    result = SliceResult(
        launched.pk,
        piece.pk,
        piece.appliance.name,
        "",
        "",
        hosts=[HostResult(ip=ip, services=s) for ip, s in hosts.items()],
    )
    services.slice_ingest(result=result)


def nvd_detections():
    return {
        (d.host.ip, d.vulnerability.external_id, d.port): d.status
        for d in Detection.objects.filter(vulnerability__source=KbSource.NVD).select_related(
            "host", "vulnerability"
        )
    }


def test_an_nvd_feed_becomes_one_potential_kb_entry_per_cve_and_reimport_changes_nothing(
    tmp_path,
):
    records = [*samples.RECORDS, samples.CVE_REJECTED]
    path = samples.write(tmp_path / "nvdcve-2.0-2024.json.gz", samples.nvd_bytes(records), gz=True)
    out = kb_import(path)
    assert "NVD CVE JSON 2.0, 6 records: 6 added, 0 updated, 0 unchanged, 1 rejected" in out
    entry = Vulnerability.objects.get(source=KbSource.NVD, external_id="CVE-2024-6387")
    assert entry.qid >= IMPORTED_QID_BASE and entry.kind == "potential"
    assert entry.cves == ["CVE-2024-6387"] and float(entry.cvss) == 8.1 and entry.severity == 4
    assert entry.title.startswith("CVE-2024-6387: A security regression")
    assert "openssh" in json.dumps(FeedCve.objects.get(cve_id="CVE-2024-6387").record)
    rejected = Vulnerability.objects.get(external_id="CVE-2023-0001")
    assert rejected.title == "CVE-2023-0001 (rejected by NVD)"
    before = list(Vulnerability.objects.order_by("qid").values())

    again = kb_import(path)  # the same file: nothing changes
    assert "6 unchanged (same file as feed import #" in again
    # The same records in another file (a different timestamp): each is unchanged.
    other = samples.write(
        tmp_path / "modified.json",
        samples.nvd_bytes(records, timestamp="2024-07-11T00:00:00.000"),
    )
    assert "0 added, 0 updated, 6 unchanged" in kb_import(other)
    assert list(Vulnerability.objects.order_by("qid").values()) == before
    assert FeedImport.objects.count() == 3


@pytest.mark.parametrize(
    "content, reason",
    [
        (samples.nvd_bytes()[:-300], "ends early"),
        (b'{"format": "NVD_CVE", "version": "1.1", "vulnerabilities": []}', "version"),
        (b"<?xml version='1.0'?><nmaprun/>", "XML"),
        (b"cve,epss,percentile\nCVE-2024-6387,1.7,0.5\n", "Line 2"),
    ],
)
def test_a_malformed_feed_file_changes_nothing_and_is_named_with_the_reason(
    tmp_path, content, reason
):
    good = samples.write(tmp_path / "good.json", samples.nvd_bytes([samples.CVE_2021_41773]))
    kb_import(good)
    before = (list(Vulnerability.objects.values()), list(FeedCve.objects.values()))
    bad = samples.write(tmp_path / "bad.file", content)
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 1 file"):
        call_command("kb_import", str(bad), stdout=StringIO(), stderr=err)
    assert reason in err.getvalue() and "bad.file" in err.getvalue()
    assert (list(Vulnerability.objects.values()), list(FeedCve.objects.values())) == before
    assert not CveIntel.objects.exists()


def test_kev_and_epss_mark_the_kb_entries_of_their_cves(tmp_path):
    # Enclave's own entry naming a CVE takes it too; KEV/EPSS before or after NVD.
    own = VulnerabilityFactory(qid=990100, cves=["CVE-2021-41773", "CVE-2099-0001"])
    kb_import(samples.write(tmp_path / "kev.json", samples.kev_bytes()))
    kb_import(samples.write(tmp_path / "epss.csv.gz", samples.epss_bytes(), gz=True))
    kb_import(samples.write(tmp_path / "nvd.json", samples.nvd_bytes()))
    apache = Vulnerability.objects.get(source=KbSource.NVD, external_id="CVE-2021-41773")
    assert apache.known_exploited and str(apache.kev_date_added) == "2021-11-03"
    assert str(apache.kev_due_date) == "2021-11-17" and apache.epss == pytest.approx(0.97471)
    assert apache.epss_percentile == pytest.approx(0.99969)
    ssh = Vulnerability.objects.get(external_id="CVE-2024-6387")
    assert not ssh.known_exploited and ssh.epss == pytest.approx(0.94406)
    own.refresh_from_db()
    assert own.known_exploited and own.epss == pytest.approx(0.97471)
    intel = CveIntel.objects.get(cve_id="CVE-2024-4577")
    assert intel.kev_ransomware and intel.epss is None


def test_reevaluation_creates_and_fixes_detections_without_a_scan(tmp_path, lab, online, sent):
    online("lab-a")
    # .2 runs an affected OpenSSH; .3 runs 7.4, outside every range of CVE-2024-6387
    # (8.6 to 9.8 excluded, before 4.4, 4.4 and 8.5p1 exactly).
    scan(lab, {"127.0.0.2": [openssh("9.6p1")], "127.0.0.3": [openssh("7.4")]})
    kb_import(samples.write(tmp_path / "nvd.json", samples.nvd_bytes()))
    assert nvd_detections() == {("127.0.0.2", "CVE-2024-6387", 22): DetectionStatus.NEW}
    run = Scan.objects.get(kind=ScanKind.FEED)
    assert run.status == ScanStatus.FINISHED and run.network == lab and run.feed is not None
    assert run.hosts_done == 2 and list(run.scan_hosts.values_list("host__ip", flat=True)) == [
        "127.0.0.2"
    ]
    detection = Detection.objects.get(vulnerability__source=KbSource.NVD)
    assert "OpenSSH 9.6p1 reported by the service on 22/tcp" in detection.results
    assert detection.severity == 4
    lab.refresh_from_db()
    assert lab.open_findings.get("4") == 1

    # NVD corrects the record: the range now ends before 9.6. Nothing is scanned.
    record = copy.deepcopy(samples.CVE_2024_6387)
    ranges = record["cve"]["configurations"][0]["nodes"][0]["cpeMatch"]
    ranges[1]["versionEndExcluding"] = "9.6"
    record["cve"]["lastModified"] = "2024-07-20T00:00:00.000"
    out = kb_import(samples.write(tmp_path / "modified.json", samples.nvd_bytes([record])))
    assert "0 added, 1 updated" in out
    assert nvd_detections() == {("127.0.0.2", "CVE-2024-6387", 22): DetectionStatus.FIXED}
    assert Scan.objects.filter(kind=ScanKind.FEED).count() == 2
    lab.refresh_from_db()
    assert lab.open_findings.get("4", 0) == 0

    # Running the same evaluation again changes nothing.
    (again,) = feed_evaluation_queue(feed=None, queue=False)
    feed_evaluate(scan_id=again.pk)
    assert nvd_detections() == {("127.0.0.2", "CVE-2024-6387", 22): DetectionStatus.FIXED}


def test_the_cve_2024_6387_negative_cases_through_the_database(tmp_path, lab, online, sent):
    online("lab-a")
    hosts = {
        "127.0.0.2": [openssh("7.4")],  # between the ranges
        "127.0.0.3": [openssh("9.8p1")],  # the fix
        "127.0.0.4": [openssh("8.5")],  # 8.5 without p1 is not the listed 8.5p1
        "127.0.0.5": [openssh("8.5p1")],  # listed exactly
        "127.0.0.6": [openssh("4.3")],  # before 4.4
    }
    scan(lab, hosts)
    kb_import(samples.write(tmp_path / "nvd.json", samples.nvd_bytes()))
    matched = {ip for ip, cve, _port in nvd_detections() if cve == "CVE-2024-6387"}
    assert matched == {"127.0.0.5", "127.0.0.6"}


def test_enclaves_own_confirmed_check_wins_over_a_potential_match(tmp_path, lab, online, sent):
    online("lab-a")
    own = VulnerabilityFactory(qid=990200, cves=["CVE-2024-6387"], severity=5, check_name="ssh")
    launched = services.scan_launch(
        actor=None, title="t", type="vulnerability", network=lab, targets="127.0.0.2"
    )
    piece = launched.slices.get()
    from core.results import Finding

    host = HostResult(
        ip="127.0.0.2",
        services=[openssh("9.6p1")],
        findings=[Finding(own.qid, 22, "tcp", "regreSSHion confirmed")],
        checks_run=["ssh"],
    )
    services.slice_ingest(
        result=SliceResult(launched.pk, piece.pk, piece.appliance.name, "", "", hosts=[host])
    )
    kb_import(samples.write(tmp_path / "nvd.json", samples.nvd_bytes()))
    assert nvd_detections() == {}
    assert Detection.objects.get().vulnerability_id == own.qid


def test_feed_import_file_records_who_and_what(tmp_path, django_user_model):
    user = django_user_model.objects.create_user(username="m", password="x", role="manager")
    feed = feed_import_file(
        path=samples.write(tmp_path / "kev.json", samples.kev_bytes()), actor=user
    )
    assert (feed.kind, feed.status, feed.records, feed.created_by) == ("kev", "finished", 2, user)
    assert feed.changed == {"added": 2, "updated": 0, "unchanged": 0}
    assert feed.started and feed.finished and feed.progress == 100


def test_a_scan_that_sees_an_upgrade_fixes_the_feed_finding_after_it_ends(
    tmp_path, lab, online, sent, django_capture_on_commit_callbacks, monkeypatch
):
    from scans.services import evaluation

    monkeypatch.setattr(evaluation, "_queue", lambda ids: [feed_evaluate(scan_id=i) for i in ids])
    online("lab-a")
    scan(lab, {"127.0.0.2": [openssh("9.6p1")]})
    kb_import(samples.write(tmp_path / "nvd.json", samples.nvd_bytes()))
    assert nvd_detections() == {("127.0.0.2", "CVE-2024-6387", 22): DetectionStatus.NEW}
    with django_capture_on_commit_callbacks(execute=True):
        scan(lab, {"127.0.0.2": [openssh("9.8p1")]})  # upgraded
    assert nvd_detections() == {("127.0.0.2", "CVE-2024-6387", 22): DetectionStatus.FIXED}
    after = Scan.objects.filter(kind=ScanKind.FEED).latest("pk")
    assert after.title.startswith("After t: feed knowledge matched") and after.feed is None
