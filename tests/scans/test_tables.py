"""Rows written in Python (scans.tables): the markup the templates had, escaped."""

import pytest

from scans.models import DetectionStatus, KbSource
from scans.tables import host_finding_rows
from tests.factories import DetectionFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db


def test_a_hosts_finding_rows_name_source_port_evidence_and_exploitation():
    ours = DetectionFactory(
        vulnerability=VulnerabilityFactory(qid=938001, title="Weak <TLS>"),
        port=8443,
        protocol="tcp",
        results="<script>alert(1)</script>",
        status=DetectionStatus.REOPENED,
    )
    nessus = DetectionFactory(
        host=ours.host,
        vulnerability=VulnerabilityFactory(
            qid=1_000_000_001,
            source=KbSource.NESSUS,
            external_id="19506",
            known_exploited=True,
            epss=0.5,
            epss_percentile=0.9,
        ),
    )
    first, second = host_finding_rows([ours, nessus]).split("\n")
    assert '<a href="/scans/kb/938001/">938001</a>' in first
    assert '<td class="source">Enclave</td>' in first and "Weak &lt;TLS&gt;" in first
    assert '<pre class="results">&lt;script&gt;alert(1)&lt;/script&gt;</pre>' in first
    assert '<span class="badge status-reopened">Re-Opened</span>' in first
    assert "<td>8443/tcp</td>" in first and "<td>—</td>" in first  # nothing known of exploitation
    assert 'Nessus <span class="muted">19506</span>' in second and "<details>" not in second
    assert "Known exploited</span>" in second and "EPSS 0.50" in second
    assert second.count("<td>—</td>") == 1  # no port
