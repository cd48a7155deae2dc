"""The scan pages a user watches: progress while it runs, the buttons when it ends,
cancel that asks first, the warning before a launch that would wait, results
as findings by severity, and badges and severities in words."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.severity import SEVERITY_NAMES, severity_badge
from core.results import Finding, HostResult, SliceResult
from scans import services
from scans.models import Scan, ScanStatus, Severity
from tests.factories import (
    ApplianceFactory,
    AssetGroupFactory,
    DetectionFactory,
    NetworkFactory,
)

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def launch(lab, targets="127.0.0.1-127.0.0.64", **kw):
    return services.scan_launch(
        actor=None, title=kw.pop("title", "Live"), type="vulnerability", network=lab,
        targets=targets, **kw,
    )  # fmt: skip


def ingest(scan, piece, hosts):
    return services.slice_result_record(
        result=SliceResult(scan.pk, piece.pk, piece.appliance.name, "", "", hosts=hosts)
    )


# --- Progress while it runs, buttons and a message when it ends ----------------------------


def test_running_scan_page_shows_phase_percent_and_polls(client_as, lab, online, sent):
    online("lab-a")
    scan = launch(lab)
    piece = scan.slices.get()
    services.slice_progress_record(
        slice_id=piece.pk, appliance="lab-a", done=40, total=64, phase="services", percent=62
    )
    client = client_as("scanner")
    html = client.get(scan.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert '<span class="badge scan-running">Running</span>' in html
    assert "62 %" in html and "· service detection" in html and "40 of 64 addresses" in html
    assert "Service detection" in html  # the slice's phase
    part = client.get(scan.get_absolute_url(), **HX).content.decode()
    assert "<html" not in part and "62 %" in part
    # The buttons come along out of band: while it runs, cancel is offered.
    assert 'id="scan-actions" hx-swap-oob="true"' in part
    assert reverse("scans:scan_cancel", args=[scan.pk]) in part


def test_when_the_scan_ends_the_polled_part_stops_and_replaces_buttons_and_message(
    client_as, lab, online, sent
):
    online("lab-a")
    scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    ingest(scan, scan.slices.get(), [HostResult(ip="127.0.0.2")])
    part = client_as("scanner").get(scan.get_absolute_url(), **HX).content.decode()
    assert "every 2s" not in part  # polling stops
    assert "Scan finished" in part and "1 host found" in part
    actions = re.search(
        r'<div class="actions" id="scan-actions" hx-swap-oob="true">(.*?)</div>', part, re.S
    )
    assert actions, part
    assert "Cancel" not in actions.group(1) and "Results" in actions.group(1)


def test_a_failed_scan_says_why_when_it_ends(client_as, lab, online, sent):
    online("lab-a")
    scan = launch(lab, targets="127.0.0.1")
    piece = scan.slices.get()
    services.slice_result_record(
        result=SliceResult(scan.pk, piece.pk, "lab-a", "", "", error="nmap is not installed")
    )
    html = client_as("reader").get(scan.get_absolute_url(), **HX).content.decode()
    assert "Scan ended in error: nmap is not installed" in html


def test_scan_list_shows_progress_phase_and_a_badge_per_status(client_as, lab, online, sent):
    online("lab-a")
    running = launch(lab, title="Running one")
    services.slice_progress_record(
        slice_id=running.slices.get().pk, appliance="lab-a", done=10, total=64,
        phase="checks", percent=91,
    )  # fmt: skip
    for status in ("finished", "error", "canceled"):
        Scan.objects.filter(pk=launch(lab, title=status).pk).update(status=status)
    Scan.objects.filter(pk=launch(lab, title="queued").pk).update(status="queued")
    html = client_as("reader").get(reverse("scans:scan_list")).content.decode()
    for status in ("queued", "running", "finished", "error", "canceled"):
        assert f'class="badge scan-{status}"' in html, status
    assert "91 %" in html and "(10 of 64 hosts)" in html and "· checks" in html
    assert 'hx-trigger="every 2s"' in html  # something on the page still runs


def test_slice_table_is_paged_with_running_slices_first(client_as, lab, online, sent):
    online("lab-a")
    scan = launch(lab, targets="127.0.0.0/20")  # 64 slices of 64
    busy = scan.slices.get(number=2)
    services.slice_progress_record(
        slice_id=busy.pk, appliance="lab-a", done=1, total=64, phase="discovery", percent=3
    )
    html = client_as("reader").get(scan.get_absolute_url()).content.decode()
    rows = re.findall(r"<tr[^>]*>\s*<td[^>]*>(\d+)</td>", html)
    assert len(rows) == 20 and rows[0] == "2"  # the running one first, a page of 20
    assert "Page 1 of 4" in html
    assert "64 in all" in html and "1 running" in html and "9 sent to appliance" in html


# --- Cancel asks first -------------------------------------------------------------------------


def test_cancel_asks_for_confirmation_then_cancels(
    client_as, lab, online, sent, django_capture_on_commit_callbacks
):
    online("lab-a")
    scan = launch(lab)
    client = client_as("scanner")
    page = client.get(scan.get_absolute_url()).content.decode()
    assert f'href="{reverse("scans:scan_cancel", args=[scan.pk])}"' in page  # a link, not a POST
    question = client.get(reverse("scans:scan_cancel", args=[scan.pk]))
    html = question.content.decode()
    assert question.status_code == 200 and "Cancel scan “Live”?" in html
    assert 'method="post"' in html and "csrfmiddlewaretoken" in html and "Keep it running" in html
    scan.refresh_from_db()
    assert scan.status == ScanStatus.QUEUED  # asking changed nothing
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("scans:scan_cancel", args=[scan.pk]))
    assert done.status_code == 302
    scan.refresh_from_db()
    assert scan.status == ScanStatus.CANCELED
    again = client.get(reverse("scans:scan_cancel", args=[scan.pk])).content.decode()
    assert "already ended" in again and 'action="/scans/' not in again


def test_readers_cannot_even_see_the_cancel_question(client_as, lab, online, sent):
    online("lab-a")
    scan = launch(lab)
    assert client_as("reader").get(reverse("scans:scan_cancel", args=[scan.pk])).status_code == 403
    assert "Cancel scan" not in client_as("reader").get(scan.get_absolute_url()).content.decode()


# --- The warning before a launch that would wait --------------------------------------------


def fields(client, **params):
    return client.get(
        reverse("scans:scan_create"),
        params,
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="network-fields",
    ).content.decode()


def test_form_warns_when_the_network_has_no_online_appliance(client_as, lab, online):
    ApplianceFactory(name="lab-sleepy", network=lab, last_seen=timezone.now() - timedelta(hours=2))
    client = client_as("scanner")
    html = fields(client, network=lab.pk)
    assert 'id="launch-warning"' in html
    assert "No scanner appliance of network &#x27;Lab&#x27; is online" in html
    assert "lab-sleepy" in html and "2\xa0hours ago" in html and "will be queued" in html
    online("lab-awake")
    assert 'id="launch-warning"' not in fields(client, network=lab.pk)


def test_form_warns_when_the_chosen_appliance_is_offline(client_as, lab, online):
    online("lab-awake")
    asleep = ApplianceFactory(name="lab-never", network=lab)
    client = client_as("scanner")
    html = fields(client, network=lab.pk, appliance=asleep.pk)
    assert "Scanner appliance &#x27;lab-never&#x27; is offline" in html
    assert "never sent a heartbeat" in html
    assert re.search(rf'<option value="{asleep.pk}" selected>', html)  # the choice is kept
    assert 'id="launch-warning"' not in fields(client, network=lab.pk)  # All Scanners: lab-awake


def test_the_asset_group_choice_says_when_the_network_has_none(client_as, lab):
    client = client_as("scanner")
    html = fields(client, network=lab.pk)
    assert "This network has no asset groups yet: name the targets under IPs/ranges." in html
    group = AssetGroupFactory(network=lab, title="Lab boxes")
    html = fields(client, network=lab.pk)
    assert 'id="no-asset-groups"' not in html
    assert f'value="{group.pk}"' in html and "Lab boxes" in html


def test_form_warns_about_a_network_without_appliances_and_the_launch_still_queues(client_as, sent):
    empty = NetworkFactory(name="Empty", space="10.5.0.0/24")
    client = client_as("scanner")
    page = client.get(reverse("scans:scan_create"), {"network": empty.pk}).content.decode()
    assert "Network &#x27;Empty&#x27; has no scanner appliance" in page
    response = client.post(
        reverse("scans:scan_create"),
        {
            "title": "Queued anyway",
            "type": "discovery",
            "network": empty.pk,
            "targets": "10.5.0.1",
            "option_profile": services.option_profile_default().pk,
        },
    )
    scan = Scan.objects.get(title="Queued anyway")
    assert response.status_code == 302 and scan.status == ScanStatus.QUEUED and not sent


# --- Results: findings by severity, QIDs linked to the KB -----------------------------------


def test_results_list_findings_grouped_by_severity_with_kb_links(
    client_as, lab, online, sent, kb, django_assert_max_num_queries
):
    online("lab-a")
    twin = NetworkFactory(name="Twin", space="127.0.0.0/8")
    scan = launch(lab, targets="127.0.0.1-127.0.0.8")
    hosts = [
        HostResult(
            ip=f"127.0.0.{n}",
            findings=[Finding(938001, 8443, "tcp"), Finding(938002, 8443, "tcp")]
            if n < 4
            else [Finding(986001, 80, "tcp")],
            checks_run=["tls", "http"],
        )
        for n in range(1, 7)
    ]
    ingest(scan, scan.slices.get(), hosts)
    # The same address in another network is another host: not this scan's.
    DetectionFactory(host__network=twin, host__ip="127.0.0.1", vulnerability=kb["header"])
    client = client_as("reader")
    with django_assert_max_num_queries(14):
        html = client.get(reverse("scans:scan_results", args=[scan.pk])).content.decode()
    sections = re.findall(r'<section class="card findings sev-group-(\d)">', html)
    assert sections == ["3", "2", "1"]  # worst first
    for qid, hosts_on in ((938002, 3), (938001, 3), (986001, 3)):
        row = re.search(
            rf'<a href="{reverse("scans:kb_detail", args=[qid])}">{qid}</a>.*?</tr>', html, re.S
        )
        assert row, qid
        assert f"<td>{hosts_on}</td>" in row.group(0)
    assert '<span class="sev sev-3">3 Serious</span>' in html
    assert '<span class="sev sev-1">1 Minimal</span>' in html
    # Host table: each host's findings under severity headers with words.
    assert "5 Urgent</span>" in html and "127.0.0.6" in html


def test_results_page_pages_findings(client_as, lab, online, sent, settings):
    from scans.models import Vulnerability

    online("lab-a")
    Vulnerability.objects.bulk_create(
        Vulnerability(qid=970000 + n, title=f"Q{n}", severity=1 + n % 5, category="t",
                      diagnosis="d", check_name="many")
        for n in range(130)
    )  # fmt: skip
    scan = launch(lab, targets="127.0.0.1")
    findings = [Finding(970000 + n, n + 1, "tcp") for n in range(130)]
    ingest(scan, scan.slices.get(), [HostResult(ip="127.0.0.1", findings=findings)])
    client = client_as("reader")
    first = client.get(reverse("scans:scan_results", args=[scan.pk])).content.decode()
    assert "Vulnerabilities 1–100 of 130" in first and first.count("sev-group-") <= 5
    second = client.get(
        reverse("scans:scan_results", args=[scan.pk]), {"findings_page": 2}
    ).content.decode()
    assert "Vulnerabilities 101–130 of 130" in second
    assert (
        client.get(
            reverse("scans:scan_results", args=[scan.pk]), {"findings_page": "x"}
        ).status_code
        == 200
    )


# --- Severity words ------------------------------------------------------------------------


def test_severity_words_are_the_kbs():
    assert {n: f"{n} - {w}" for n, w in SEVERITY_NAMES.items()} == dict(Severity.choices)
    assert severity_badge(5) == '<span class="sev sev-5">5 Urgent</span>'
    assert severity_badge("<b>") == '<span class="sev sev-0">&lt;b&gt;</span>'


def test_the_scan_list_stops_polling_when_nothing_on_it_runs(client_as, lab, online, sent):
    online("lab-a")
    scan = launch(lab, title="Running one")
    assert (
        'hx-trigger="every 2s"'
        in client_as("reader").get(reverse("scans:scan_list")).content.decode()
    )
    Scan.objects.filter(pk=scan.pk).update(status="finished")
    html = client_as("reader").get(reverse("scans:scan_list")).content.decode()
    assert "Running one" in html and "every 2s" not in html
