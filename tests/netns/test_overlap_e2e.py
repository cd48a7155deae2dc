"""Two custom networks with identical address spaces, one appliance inside each.

Each network's 10.77.0.5 is a different machine (an HTTP server in "a"; SSH
and TLS with an expired certificate in "b"). Scans launched through the API
on both must give each network exactly its own services and findings, and
every view of them (Host Assets, host detail, detections API, a report) must
name the right network beside the IP.
"""

import pytest
from django.urls import reverse

from scans.models import ScanHost

pytestmark = [
    pytest.mark.netns,
    pytest.mark.xdist_group("netns"),
    pytest.mark.django_db(transaction=True),
]

IP = "10.77.0.5"
TLS_EXPIRED, TLS_SELF_SIGNED, SSH_VERSION = 38100, 38101, 38600


def _services(scan_id: int) -> dict[int, str]:
    row = ScanHost.objects.get(scan_id=scan_id, host__ip=IP)
    return {s["port"]: s["name"] for s in row.services}


def test_same_subnet_in_two_networks_keeps_services_and_findings_apart(stack, client_as):
    net_a, net_b = stack.network("Plant A"), stack.network("Plant B")
    stack.appliance("netns-a", net_a, "a")
    stack.appliance("netns-b", net_b, "b")
    stack.wait_online("netns-a", "netns-b")
    profile = stack.option_profile()

    scan_a = stack.launch("Plant A vulnerabilities", net_a, IP, profile)
    scan_b = stack.launch("Plant B vulnerabilities", net_b, IP, profile)
    done_a, done_b = stack.wait_done(scan_a), stack.wait_done(scan_b)
    assert done_a["status"] == "finished", done_a
    assert done_b["status"] == "finished", done_b
    assert (done_a["hosts_found"], done_b["hosts_found"]) == (1, 1)

    # Each scanner saw its own machine's services, none of the other's.
    assert set(_services(scan_a)) == {80}
    assert set(_services(scan_b)) == {22, 443}

    # Hosts API: two hosts with the same IP, one per network.
    hosts = stack.all_pages(f"/api/v1/hosts/?ip={IP}")
    assert sorted((h["network"], h["network_name"], h["ip"]) for h in hosts) == [
        (net_a, "Plant A", IP),
        (net_b, "Plant B", IP),
    ]
    host_a = next(h["id"] for h in hosts if h["network"] == net_a)
    host_b = next(h["id"] for h in hosts if h["network"] == net_b)

    # Detections API: each finding where it was found.
    det_a, det_b = stack.detections(network=net_a), stack.detections(network=net_b)
    assert det_a and det_b
    assert {(d["network_name"], d["ip"], d["host"]) for d in det_a} == {("Plant A", IP, host_a)}
    assert {(d["network_name"], d["ip"], d["host"]) for d in det_b} == {("Plant B", IP, host_b)}
    assert {d["port"] for d in det_a} <= {0, 80} and 80 in {d["port"] for d in det_a}
    assert {d["port"] for d in det_b} <= {0, 22, 443}
    keys_b = {(d["qid"], d["port"]) for d in det_b}
    assert {(TLS_EXPIRED, 443), (TLS_SELF_SIGNED, 443), (SSH_VERSION, 22)} <= keys_b
    qids_a = {d["qid"] for d in det_a}
    assert not qids_a & {TLS_EXPIRED, TLS_SELF_SIGNED, SSH_VERSION}
    # Filtering by IP alone returns both networks' findings, each still labelled.
    by_ip = stack.detections(ip=IP)
    assert sorted(d["id"] for d in by_ip) == sorted(d["id"] for d in det_a + det_b)

    # Host detail API: a host's detections are its network's, all of them.
    detail_a = stack.api.get(f"/api/v1/hosts/{host_a}/").json()
    detail_b = stack.api.get(f"/api/v1/hosts/{host_b}/").json()
    assert sorted(d["id"] for d in detail_a["detections"]) == sorted(d["id"] for d in det_a)
    assert sorted(d["id"] for d in detail_b["detections"]) == sorted(d["id"] for d in det_b)

    # Host Assets pages (as a Reader): the network's host list and the host page.
    reader = client_as("reader")
    listing = reader.get(f"/assets/networks/{net_a}/hosts/")
    assert listing.status_code == 200 and IP in listing.content.decode()
    page_a = reader.get(f"/assets/hosts/{host_a}/").content.decode()
    assert "Plant A" in page_a
    # The host page's findings panel is the scans app's fragment, loaded by htmx.
    page_a = reader.get(reverse("scans:host_detections", args=[host_a])).content.decode()
    page_b = reader.get(reverse("scans:host_detections", args=[host_b])).content.decode()
    assert f">{TLS_EXPIRED}<" not in page_a
    assert f">{TLS_EXPIRED}<" in page_b and f">{SSH_VERSION}<" in page_b
    for qid in qids_a:
        assert f">{qid}<" in page_a

    # A report over every network: each row names the network its finding is in.
    report = stack.api.post(
        "/api/v1/reports/",
        {"title": "10.77.0.5 everywhere", "format": "csv", "targets": IP, "network": "all"},
        format="json",
    )
    assert report.status_code == 201, report.content
    body = stack_wait_report(stack, report.json()["id"])
    import csv
    import io

    download = stack.api.get(body["download_url"])
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    in_report = {(r["Network"], r["IP"], int(r["QID"]), int(r["Port"] or 0)) for r in rows}
    expected = {("Plant A", IP, d["qid"], d["port"]) for d in det_a} | {
        ("Plant B", IP, d["qid"], d["port"]) for d in det_b
    }
    assert in_report == expected


def stack_wait_report(stack, report_id: int) -> dict:
    from tests.waiting import wait_for

    return wait_for(
        lambda: (
            (b := stack.api.get(f"/api/v1/reports/{report_id}/").json())["status"]
            in ("finished", "error")
            and b
        ),
        timeout=60,
        what="the report",
    )
