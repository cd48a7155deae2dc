"""CISA KEV catalog and FIRST EPSS CSV files (scans/feeds/kev.py, epss.py)."""

import gzip
import io
import json
from datetime import UTC, date, datetime

import pytest

from scans.feeds import FeedFormatError, epss, kev, open_feed
from tests.scans import feed_samples as samples


def read(module, content: bytes, *, gz: bool = False):
    data = gzip.compress(content) if gz else content
    with open_feed(io.BytesIO(data)) as stream:
        return list(module.parse(stream))


def error_of(module, content: bytes, *, gz: bool = False) -> str:
    with pytest.raises(FeedFormatError) as caught:
        read(module, content, gz=gz)
    return str(caught.value)


# --- KEV ----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_kev_entries(gz):
    apache, php = read(kev, samples.kev_bytes(), gz=gz)
    assert apache.cve_id == "CVE-2021-41773"
    assert (apache.date_added, apache.due_date) == (date(2021, 11, 3), date(2021, 11, 17))
    assert (apache.vendor_project, apache.product) == ("Apache", "HTTP Server")
    assert apache.vulnerability_name == "Apache HTTP Server Path Traversal Vulnerability"
    assert apache.required_action == "Apply updates per vendor instructions."
    assert apache.cwes == ["CWE-22"]
    assert not apache.ransomware
    assert php.ransomware and php.known_ransomware_campaign_use == "Known"


def test_kev_header():
    with open_feed(io.BytesIO(samples.kev_bytes())) as stream:
        header = kev.read_header(stream)
    assert header.title == "CISA Catalog of Known Exploited Vulnerabilities"
    assert header.catalog_version == "2024.07.09"
    assert header.date_released == datetime(2024, 7, 9, 14, 0, 19, 978100, tzinfo=UTC)
    assert header.count == 2


def test_kev_due_date_may_be_missing():
    entry = dict(samples.KEV_ENTRIES[0])
    entry.pop("dueDate")
    (parsed,) = read(kev, samples.kev_bytes([entry]))
    assert parsed.due_date is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: e.pop("cveID"), "vulnerabilities[1].cveID: None is not a CVE id"),
        (lambda e: e.update(cveID="CVE-2024"), "'CVE-2024' is not a CVE id"),
        (lambda e: e.pop("dateAdded"), "(CVE-2024-4577): dateAdded: the date is missing"),
        (lambda e: e.update(dueDate="soon"), "dueDate: 'soon' is not a date (YYYY-MM-DD)"),
    ],
)
def test_kev_broken_entry_is_named(change, message):
    entries = json.loads(json.dumps(samples.KEV_ENTRIES))
    change(entries[1])
    assert message in error_of(kev, samples.kev_bytes(entries))


def test_kev_not_the_catalog():
    content = json.dumps({"vulnerabilities": samples.KEV_ENTRIES}).encode()
    assert 'has no "catalogVersion"' in error_of(kev, content)
    assert "the file has no 'vulnerabilities' list" in error_of(kev, b'{"catalogVersion": "1"}')


def test_kev_truncated():
    content = samples.kev_bytes()
    message = error_of(kev, content[: content.index(b'"CVE-2024-4577"') + 30])
    assert message.startswith("The file ends early (truncated?) near byte")
    assert "after entry 1 (CVE-2021-41773)" in message


# --- EPSS ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_epss_scores(gz):
    scores = read(epss, samples.epss_bytes(), gz=gz)
    assert [s.cve_id for s in scores] == [
        "CVE-1999-0001",
        "CVE-2021-41773",
        "CVE-2021-23017",
        "CVE-2024-6387",
    ]
    assert (scores[1].epss, scores[1].percentile) == (0.97471, 0.99969)


def test_epss_header():
    with open_feed(io.BytesIO(samples.epss_bytes())) as stream:
        header = epss.read_header(stream)
    assert header.model_version == "v2023.03.01"
    assert header.score_date == "2024-07-09T00:00:00+0000"
    assert header.columns == ("cve", "epss", "percentile")


def test_epss_without_the_comment_line_nor_percentile_and_with_a_bom():
    lines = ["cve,epss", "CVE-2021-41773,0.97471", ""]
    (score,) = read(epss, "\ufeff".encode() + samples.epss_bytes(lines))
    assert (score.cve_id, score.epss, score.percentile) == ("CVE-2021-41773", 0.97471, None)


def test_epss_columns_are_found_by_name():
    lines = ["percentile,cve,epss,extra", "0.5,CVE-2024-6387,0.25,x"]
    (score,) = read(epss, samples.epss_bytes(lines))
    assert (score.cve_id, score.epss, score.percentile) == ("CVE-2024-6387", 0.25, 0.5)


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("CVE-2024-9999,1.5,0.5", "Line 5: epss '1.5' is not a number from 0 to 1"),
        ("CVE-2024-9999,0.1,nan", "Line 5: percentile 'nan' is not a number from 0 to 1"),
        ("CVE-2024-9999,abc,0.5", "Line 5: epss 'abc' is not a number from 0 to 1"),
        ("2024-9999,0.1,0.5", "Line 5: '2024-9999' is not a CVE id"),
        ("CVE-2024-9999,0.1", "Line 5: 2 columns, the header has 3 (cve,epss,percentile)"),
    ],
)
def test_epss_bad_row_names_the_line(bad_line, message):
    lines = [*samples.EPSS_LINES[:4], bad_line, *samples.EPSS_LINES[4:]]
    assert message in error_of(epss, samples.epss_bytes(lines))


def test_epss_not_scores():
    message = error_of(epss, b"id,score\n1,2\n")
    assert message.startswith("Not FIRST EPSS scores (CSV): line 1 is 'id,score'")
    assert "no header line" in error_of(epss, b"#model_version:v2023.03.01\n")
    assert "not UTF-8 text" in error_of(epss, b"cve,epss\nCVE-2024-0001,\xff\xfe\n")


def test_epss_truncated_gzip():
    rows = [f"CVE-2024-{n:05d},0.00{n % 10}43,0.{n:05d}" for n in range(10_000, 30_000)]
    packed = gzip.compress(samples.epss_bytes([*samples.EPSS_LINES[:2], *rows]))
    cut = io.BytesIO(packed[: len(packed) // 2])
    with pytest.raises(FeedFormatError, match="The gzip data ends early"), open_feed(cut) as stream:
        list(epss.parse(stream))
