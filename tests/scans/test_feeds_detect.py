"""Which feed a file is, by its content, gzip or not (scans/feeds/__init__.py)."""

import gzip
import io
import json

import pytest

from scans.feeds import FEEDS, FeedFormatError, detect_format, open_feed
from tests.scans import feed_samples as samples

CONTENTS = {
    "nvd": samples.nvd_bytes(),
    "kev": samples.kev_bytes(),
    "epss": samples.epss_bytes(),
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_each_format_from_a_path_whatever_its_name(tmp_path, name, gz):
    path = samples.write(tmp_path / "download.bin", CONTENTS[name], gz=gz)
    assert detect_format(path) == name
    assert detect_format(str(path)) == name


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_from_a_stream_put_back_where_it_was(name):
    stream = io.BytesIO(gzip.compress(CONTENTS[name]))
    assert detect_format(stream) == name
    assert stream.tell() == 0
    with open_feed(stream) as unpacked:
        assert detect_format(unpacked) == name
        records = list(FEEDS[name].parse(unpacked))
    assert records


def test_kev_and_nvd_told_by_their_records_when_the_header_says_nothing():
    nvd_like = {"vulnerabilities": [samples.CVE_2021_41773]}
    kev_like = {"vulnerabilities": samples.KEV_ENTRIES}
    assert detect_format(io.BytesIO(json.dumps(nvd_like).encode())) == "nvd"
    assert detect_format(io.BytesIO(json.dumps(kev_like).encode())) == "kev"


def test_a_large_file_is_told_from_its_start():
    """Only the first MiB is read: the kind shows in the first keys."""
    records = [samples.CVE_2024_6387] * 2000
    content = samples.nvd_bytes(records)
    assert len(content) > 2 * 1024 * 1024
    assert detect_format(io.BytesIO(content)) == "nvd"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "The file is empty."),
        (b"  \n ", "The file is empty."),
        (
            b'{"CVE_data_type": "CVE", "CVE_data_format": "MITRE", "CVE_Items": []}',
            "NVD JSON 1.1 feed, which NVD retired in 2023",
        ),
        (
            b'{"dataType": "CVE_RECORD", "dataVersion": "5.1", "cveMetadata": {}}',
            "CVE JSON 5 record from the CVE List",
        ),
        (b'[{"cve": {}}]', "the file is a JSON list"),
        (b'{"name": "x", "items": [1, 2]}', 'a JSON object with the keys "name", "items"'),
        (b'{"format": "NVD_CVE", "vuln', "The file ends early (truncated?): its 27 bytes"),
        (b'{"format": "NVD_CVE", x', "starts like JSON but is not valid JSON (lexical error"),
        (
            b'<?xml version="1.0"?>\n<nmaprun scanner="nmap"></nmaprun>',
            "Not a feed file Enclave reads: it is XML or HTML",
        ),
        (b"\x00\x01\x02binary", "it is a binary file"),
        (b"hello,world\n1,2\n", "it starts with 'hello,world'"),
    ],
)
def test_what_is_not_a_feed_is_named(content, message):
    with pytest.raises(FeedFormatError) as caught:
        detect_format(io.BytesIO(content))
    assert message in str(caught.value)
    if message.startswith(("Not a feed", "the file is", "a JSON", "it ")):
        assert str(caught.value).endswith(
            "Enclave reads NVD CVE JSON 2.0, the CISA KEV catalog (JSON) and FIRST EPSS scores "
            "(CSV), plain or gzip."
        )


def test_a_damaged_gzip_is_named():
    packed = gzip.compress(samples.nvd_bytes())
    with pytest.raises(FeedFormatError, match="gzip data"):
        detect_format(io.BytesIO(packed[:40]))
