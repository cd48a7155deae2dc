"""NVD CVE JSON 2.0 files (scans/feeds/nvd.py): what a record keeps, how
configurations become rules, what a bad file is told, and flat memory."""

import gzip
import io
import json
import tracemalloc
from datetime import UTC, date, datetime

import pytest

from scans.feeds import FeedFormatError, nvd, open_feed
from scans.feeds.cpe import NA, Cpe
from tests.scans import feed_samples as samples


def parse(content: bytes) -> list[nvd.CveRecord]:
    with open_feed(io.BytesIO(content)) as stream:
        return list(nvd.parse(stream))


def by_id(records):
    return {r.cve_id: r for r in records}


def test_a_record_as_nvd_writes_it():
    record = by_id(parse(samples.nvd_bytes()))["CVE-2024-6387"]
    assert record.status == "Modified"
    assert record.published == datetime(2024, 7, 1, 13, 15, 6, 467000, tzinfo=UTC)
    assert record.last_modified == datetime(2024, 7, 9, 6, 15, 3, 513000, tzinfo=UTC)
    assert record.description.startswith("A security regression (CVE-2006-5051)")  # English
    assert record.cvss_v31.score == 8.1
    assert record.cvss_v31.vector == "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert record.cvss_v31.severity == "HIGH"
    assert (record.cvss_v31.source, record.cvss_v31.primary) == ("nvd@nist.gov", True)
    assert record.cvss.version == "3.1"
    assert record.cwes == ["CWE-362", "CWE-364"]  # NVD's own first
    # The URL NVD lists under two sources is kept once.
    assert record.references == [
        "http://www.openwall.com/lists/oss-security/2024/07/01/12",
        "https://access.redhat.com/security/cve/CVE-2024-6387",
        "https://www.qualys.com/2024/07/01/cve-2024-6387/regresshion.txt",
    ]
    assert record.kev_date_added is None and not record.rejected


def test_the_configuration_of_cve_2024_6387():
    record = by_id(parse(samples.nvd_bytes()))["CVE-2024-6387"]
    # Three OR configurations, one OR node each: three rules of one group.
    assert [len(rule.groups) for rule in record.rules] == [1, 1, 1]
    openssh = record.rules[0].groups[0]
    assert [c.cpe.key for c in openssh] == [("openbsd", "openssh")] * 5
    before, between, four_four, eight_five, nine_eight = openssh
    assert (before.version_end_excluding, before.version_start_including) == ("4.4", "")
    assert (between.version_start_including, between.version_end_excluding) == ("8.6", "9.8")
    assert four_four.cpe == Cpe("a", "openbsd", "openssh", "4.4", NA)
    assert eight_five.cpe == Cpe("a", "openbsd", "openssh", "8.5", "p1")
    assert nine_eight.cpe.update == NA
    assert eight_five.match_criteria_id == "7945F60B-460E-4CA6-9EB4-BEE663386D50"
    assert all(c.vulnerable for c in record.criteria)
    assert len(record.criteria) == 9
    assert between.describe() == "openbsd openssh from 8.6 (included) before 9.8"
    assert eight_five.describe() == "openbsd openssh 8.5 update p1"
    assert nine_eight.describe() == "openbsd openssh 9.8 (no update)"


def test_kev_fields_nvd_copies_and_cvss_v2():
    record = by_id(parse(samples.nvd_bytes()))["CVE-2021-41773"]
    assert record.kev_date_added == date(2021, 11, 3)
    assert record.kev_due_date == date(2021, 11, 17)
    assert record.kev_name == "Apache HTTP Server Path Traversal Vulnerability"
    # v2 keeps its severity beside cvssData, not inside it.
    assert (record.cvss_v2.score, record.cvss_v2.severity) == (4.3, "MEDIUM")
    assert record.cvss.version == "3.1"  # preferred over v2


def test_nvds_own_metric_wins_over_the_cnas_listed_first():
    record = by_id(parse(samples.nvd_bytes()))["CVE-2024-4577"]
    assert record.cvss_v31.source == "nvd@nist.gov"
    assert record.cvss_v31.primary


def test_cvss_preference_and_a_cna_only_score():
    v4 = {
        "source": "cna@example.com",
        "type": "Secondary",
        "cvssData": {"version": "4.0", "vectorString": "CVSS:4.0/AV:N", "baseScore": 9.3,
                     "baseSeverity": "CRITICAL"},
    }  # fmt: skip
    item = samples.cve("CVE-2024-1000")
    item["cve"]["metrics"] = {"cvssMetricV40": [v4]}
    record = parse(samples.nvd_bytes([item]))[0]
    assert record.cvss_v31 is None
    assert (record.cvss.version, record.cvss.score, record.cvss.primary) == ("4.0", 9.3, False)
    item["cve"]["metrics"] = {}
    assert parse(samples.nvd_bytes([item]))[0].cvss is None


def test_an_and_configuration_keeps_its_platform_as_a_condition():
    record = by_id(parse(samples.nvd_bytes()))["CVE-2023-31740"]
    (rule,) = record.rules
    assert [[c.criteria for c in group] for group in rule.groups] == [
        ["cpe:2.3:o:linksys:e2000_firmware:1.0.06:*:*:*:*:*:*:*"]
    ]
    assert rule.conditions == ["on cpe:2.3:h:linksys:e2000:-:*:*:*:*:*:*:*"]


def test_and_nodes_negated_nodes_and_negated_configurations():
    and_node = samples.cve(
        "CVE-2024-1001",
        nodes=[
            samples.node(
                samples.criterion("cpe:2.3:a:vendor:server:2.0:*:*:*:*:*:*:*"),
                samples.criterion("cpe:2.3:a:vendor:plugin:1.0:*:*:*:*:*:*:*"),
                samples.criterion("cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*", False),
                operator="AND",
            )
        ],
    )
    negated = samples.cve(
        "CVE-2024-1002",
        operator="AND",
        nodes=[
            samples.node(samples.criterion("cpe:2.3:a:vendor:server:2.0:*:*:*:*:*:*:*")),
            samples.node(
                samples.criterion("cpe:2.3:o:vendor:hardened_os:-:*:*:*:*:*:*:*"), negate=True
            ),
        ],
    )
    whole = samples.cve("CVE-2024-1003", samples.criterion("cpe:2.3:a:v:p:1:*:*:*:*:*:*:*"))
    whole["cve"]["configurations"][0]["negate"] = True
    records = by_id(parse(samples.nvd_bytes([and_node, negated, whole])))

    (rule,) = records["CVE-2024-1001"].rules
    assert [[c.cpe.product for c in g] for g in rule.groups] == [["server"], ["plugin"]]
    assert rule.conditions == ["with cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"]
    (rule,) = records["CVE-2024-1002"].rules
    assert [[c.cpe.product for c in g] for g in rule.groups] == [["server"]]
    assert rule.conditions == ["not on cpe:2.3:o:vendor:hardened_os:-:*:*:*:*:*:*:*"]
    assert records["CVE-2024-1003"].rules == []


def test_a_rejected_record_says_so():
    (record,) = parse(samples.nvd_bytes([samples.CVE_REJECTED]))
    assert record.rejected and record.rules == [] and record.cvss is None


def test_the_header():
    with open_feed(io.BytesIO(samples.nvd_bytes())) as stream:
        header = nvd.read_header(stream)
    assert header.format == "NVD_CVE" and header.version == "2.0"
    assert header.timestamp == datetime(2024, 7, 10, 3, 0, 1, 123000, tzinfo=UTC)
    assert header.total_results == 5


def test_gzip_and_plain_give_the_same_records(tmp_path):
    plain = samples.write(tmp_path / "nvdcve-2.0-2024.json", samples.nvd_bytes())
    packed = samples.write(tmp_path / "nvdcve-2.0-2024.json.gz", samples.nvd_bytes(), gz=True)
    results = []
    for path in (plain, packed):
        with open_feed(path) as stream:
            results.append([r.to_dict() for r in nvd.parse(stream)])
    assert results[0] == results[1]
    assert [r["cve_id"] for r in results[0]] == [
        "CVE-2024-6387",
        "CVE-2021-41773",
        "CVE-2021-23017",
        "CVE-2024-4577",
        "CVE-2023-31740",
    ]


def test_to_dict_round_trip_and_fingerprint():
    records = parse(samples.nvd_bytes())
    for record in records:
        data = json.loads(json.dumps(record.to_dict()))
        again = nvd.CveRecord.from_dict(data)
        assert again == record
        assert again.fingerprint() == record.fingerprint()
    # A changed range changes the fingerprint: a re-import sees the record changed.
    item = json.loads(json.dumps(samples.CVE_2024_6387))
    match = item["cve"]["configurations"][0]["nodes"][0]["cpeMatch"][1]
    match["versionEndExcluding"] = "9.9"
    changed = parse(samples.nvd_bytes([item]))[0]
    assert changed.fingerprint() != by_id(records)["CVE-2024-6387"].fingerprint()


# --- files that are not right -------------------------------------------------------


def error_of(content: bytes) -> str:
    with pytest.raises(FeedFormatError) as caught:
        parse(content)
    return str(caught.value)


def test_a_truncated_file_names_where_it_stopped():
    content = json.dumps(samples.nvd_document(samples.RECORDS)).encode()
    cut = content.index(b'"CVE-2021-23017"') + 200
    message = error_of(content[:cut])
    assert message.startswith("The file ends early (truncated?) near byte ")
    assert "after record 2 (CVE-2021-41773)" in message


def test_invalid_json_names_the_byte_and_the_record_before():
    content = json.dumps(samples.nvd_document(samples.RECORDS[:2])).encode()
    at = content.index(b'"CVE-2021-41773"') + 40
    broken = content[:at] + b"\x01oops" + content[at:]
    message = error_of(broken)
    assert message.startswith("Not valid JSON (lexical error: invalid character inside string.)")
    assert " near byte " in message
    assert "after record 1 (CVE-2024-6387)" in message


@pytest.mark.parametrize(
    "header, message",
    [
        ({"format": "NVD_CPE"}, 'its "format" is \'NVD_CPE\', expected "NVD_CVE"'),
        ({"version": "1.1"}, 'its "version" is \'1.1\'; Enclave reads version "2.0"'),
        ({"vulnerabilities": {}}, "its 'vulnerabilities' is a JSON object, not a list"),
    ],
)
def test_not_nvd_2_0(header, message):
    assert message in error_of(samples.nvd_bytes(**header))


def test_no_format_and_no_records():
    assert 'no "format": "NVD_CVE"' in error_of(b'{"vulnerabilities": []}')
    assert "the file has no 'vulnerabilities' list" in error_of(b'{"format": "NVD_CVE"}')
    assert "is a JSON array, not an object" in error_of(b"[1, 2]")


def broken_record(change) -> bytes:
    item = json.loads(json.dumps(samples.CVE_2021_23017))
    change(item["cve"])
    return samples.nvd_bytes([samples.CVE_2024_6387, item])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("id"), "vulnerabilities[1].cve.id: None is not a CVE id"),
        (lambda c: c.update(id="CVE-21-1"), "vulnerabilities[1].cve.id: 'CVE-21-1' is not"),
        (
            lambda c: c.update(configurations={}),
            'vulnerabilities[1] (CVE-2021-23017): "configurations" is not a list',
        ),
        (
            lambda c: c["configurations"][0].pop("nodes"),
            "configurations[0]: not a configuration",
        ),
        (
            lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(
                criteria="cpe:2.3:a:f5:nginx"
            ),
            "configurations[0].nodes[0].cpeMatch[0]: 'cpe:2.3:a:f5:nginx' has 5 parts",
        ),
        (
            lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(
                criteria="cpe:/a:f5:nginx"
            ),
            "cpeMatch[0]: 'cpe:/a:f5:nginx' is not a CPE 2.3 name",
        ),
        (
            lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(vulnerable="yes"),
            "\"vulnerable\" is 'yes', not true or false",
        ),
        (
            lambda c: c["configurations"][0]["nodes"][0].update(operator="XOR"),
            "nodes[0]: operator 'XOR' is not AND or OR",
        ),
    ],
)
def test_a_broken_record_is_named(change, message):
    assert message in error_of(broken_record(change))


def test_a_truncated_gzip_file(tmp_path):
    packed = gzip.compress(samples.nvd_bytes())
    path = samples.write(tmp_path / "cut.json.gz", packed[: len(packed) // 2])
    with pytest.raises(FeedFormatError, match="The gzip data ends early"), open_feed(path) as s:
        list(nvd.parse(s))


def test_a_damaged_gzip_file(tmp_path):
    packed = bytearray(gzip.compress(samples.nvd_bytes()))
    packed[len(packed) // 2 : len(packed) // 2 + 16] = b"\xff" * 16
    path = samples.write(tmp_path / "bad.json.gz", bytes(packed))
    with pytest.raises(FeedFormatError, match="gzip data"), open_feed(path) as stream:
        list(nvd.parse(stream))


# --- memory -------------------------------------------------------------------------


def write_feed(path, count: int) -> int:
    """A feed of ``count`` records (the samples over and over with new ids),
    written record by record; returns its size."""
    texts = [json.dumps(item, indent=2) for item in samples.RECORDS]
    with open(path, "wb") as out:
        out.write(b'{"resultsPerPage": %d, "startIndex": 0, "totalResults": %d, ' % (count, count))
        out.write(b'"format": "NVD_CVE", "version": "2.0", "timestamp": "2024-07-10T00:00:00.000",')
        out.write(b' "vulnerabilities": [\n')
        for n in range(count):
            item = samples.RECORDS[n % len(samples.RECORDS)]
            text = texts[n % len(texts)].replace(item["cve"]["id"], f"CVE-2099-{n + 10000}")
            out.write((",\n" if n else "").encode() + text.encode())
        out.write(b"\n]}\n")
        return out.tell()


def peak_while_parsing(path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = 0
        with open_feed(path) as stream:
            for _record in nvd.parse(stream):
                count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_whatever_the_file_size(tmp_path):
    """The 250,000-record benchmark (bench/feeds_bench.py) prints the same figure
    for a file of hundreds of MB; here 500 against 4,000 records (15 MB)."""
    write_feed(tmp_path / "small.json", 500)
    big_size = write_feed(tmp_path / "big.json", 4_000)
    assert big_size > 15_000_000
    small_count, small_peak = peak_while_parsing(tmp_path / "small.json")
    big_count, big_peak = peak_while_parsing(tmp_path / "big.json")
    assert (small_count, big_count) == (500, 4_000)
    # Eight times the records, the same memory: nothing accumulates.
    assert big_peak < small_peak * 1.5 + 256 * 1024, (small_peak, big_peak)
    assert big_peak < 4 * 1024 * 1024, big_peak


def test_parse_needs_a_file_it_can_read_twice():
    class Pipe(io.RawIOBase):
        def __init__(self):
            self._data = io.BytesIO(samples.nvd_bytes())

        def readable(self):
            return True

        def readinto(self, buffer):
            return self._data.readinto(buffer)

    with open_feed(Pipe()) as stream, pytest.raises(TypeError, match="give it a file"):
        list(nvd.parse(stream))
