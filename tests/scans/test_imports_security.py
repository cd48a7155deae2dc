"""Hostile XML: a DOCTYPE pointing at a server is never fetched, entities (billion
laughs, external entities) are refused at once, and nothing is written."""

import http.server
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Host
from scans.imports import ImportFormatError, detect_format
from scans.models import ScanStatus, Vulnerability
from scans.services.imports import import_create, import_run
from tests.factories import NetworkFactory
from tests.scans import import_samples as samples
from tests.scans.import_samples import Box, Vuln

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE ASSET_DATA_REPORT [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ASSET_DATA_REPORT><HOST_LIST><HOST><IP>10.0.0.5</IP><DNS>&lol9;</DNS>
<VULN_INFO_LIST/></HOST></HOST_LIST></ASSET_DATA_REPORT>
"""


@pytest.fixture
def recorder():
    """A loopback HTTP server that records every request it gets."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml-dtd")
            self.end_headers()
            self.wfile.write(b'<!ENTITY secret "from the network">')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, hits
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run(network, data, name="q.xml"):
    scan = import_create(actor=None, network=network, file=SimpleUploadedFile(name, data))
    import_run(scan_id=scan.pk)
    scan.refresh_from_db()
    return scan


def test_the_recorder_does_record(recorder):
    """The server the next tests rely on answers and records (so its silence means something)."""
    import urllib.request

    base, hits = recorder
    with urllib.request.urlopen(f"{base}/probe.dtd", timeout=5) as answer:  # noqa: S310
        assert answer.status == 200
    assert hits == ["/probe.dtd"]


@pytest.mark.django_db
def test_a_qualys_doctype_pointing_at_a_server_is_imported_without_a_fetch(recorder):
    base, hits = recorder
    network = NetworkFactory(name="Acme", space="10.0.0.0/16")
    data = samples.qualys_report(
        [Box("10.0.0.5", vulns=[Vuln("38170")])], dtd_url=f"{base}/asset_data_report.dtd"
    )
    assert f'SYSTEM "{base}/asset_data_report.dtd"'.encode() in data
    scan = run(network, data)
    assert scan.status == ScanStatus.FINISHED and scan.hosts_found == 1
    time.sleep(0.2)
    assert hits == []


@pytest.mark.django_db
def test_an_external_entity_is_refused_without_a_fetch(recorder):
    base, hits = recorder
    network = NetworkFactory(name="Acme", space="10.0.0.0/16")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE ASSET_DATA_REPORT [\n'
        f'<!ENTITY secret SYSTEM "{base}/secret.txt">\n'
        f'<!ENTITY % remote SYSTEM "{base}/remote.dtd"> %remote;\n]>\n'
        "<ASSET_DATA_REPORT><HOST_LIST><HOST><IP>10.0.0.5</IP><DNS>&secret;</DNS>"
        "</HOST></HOST_LIST></ASSET_DATA_REPORT>"
    ).encode()
    with pytest.raises(ValidationError) as refused:
        import_create(actor=None, network=network, file=SimpleUploadedFile("x.xml", data))
    assert "entit" in str(refused.value).lower()
    time.sleep(0.2)
    assert hits == []
    assert not Host.objects.exists()


@pytest.mark.django_db
def test_billion_laughs_is_refused_quickly_and_writes_nothing():
    network = NetworkFactory(name="Acme", space="10.0.0.0/16")
    started = time.monotonic()
    with pytest.raises(ValidationError) as refused:
        import_create(actor=None, network=network, file=SimpleUploadedFile("b.xml", BILLION_LAUGHS))
    assert time.monotonic() - started < 2
    assert "declares the XML entity 'lol'" in str(refused.value)
    assert not Host.objects.exists() and not Vulnerability.objects.filter(source="qualys").exists()


def test_entities_after_a_valid_root_are_refused_by_the_parser_too():
    """The upload only reads up to the root element; the task's parser refuses too."""
    import io

    from scans.imports import PARSERS

    with pytest.raises(ImportFormatError, match="declares the XML entity 'lol'"):
        list(PARSERS["qualys"].parse(io.BytesIO(BILLION_LAUGHS)))
    with pytest.raises(ImportFormatError, match="declares the XML entity"):
        detect_format(io.BytesIO(BILLION_LAUGHS))
