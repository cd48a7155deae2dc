"""Writes the feeds benchmark's files: an NVD CVE JSON 2.0 feed, a KEV catalog and
EPSS scores, shaped like the real ones.

    .venv/bin/python bench/feeds_generate.py [--records 250000] [--gzip] [--out bench/out/feeds]

Records name a few hundred products that the benchmark's hosts run (the
services nmap names most, by their NVD names, plus made-up vendors; popular
ones get more CVEs): ``--tail-share`` of them (80 %) go instead to a long tail
of 20,000 products no host runs, as in NVD, where most CVEs concern products
an estate does not have; so a product hosts run gets ~150 CVEs at 250,000
records, as NVD's busiest network services do. Each record has NVD's parts:
English (and sometimes Spanish) descriptions, CVSS v3.1 from NVD and sometimes
a CNA, v2 for old ids, v4.0 for some, CWEs, references, and configurations of
the kinds NVD writes: one range, a range per release branch, an open-ended
"before", exact versions with and without an update part (OpenSSH's
``8.5:p1``), "running on" AND configurations with a non-vulnerable platform,
"every version", an operating system's own configuration beside the
software's. Deterministic (``--seed``). Written record by record: memory stays
small whatever ``--records``.

``CATALOGUE`` and ``inventory()`` are also what bench/feeds_bench.py uses to
make hosts whose services run these products.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "out" / "feeds"


@dataclass(frozen=True)
class Product:
    vendor: str  # NVD's name
    product: str
    nmap_name: str  # what nmap prints as the product ("" for made-up ones)
    nmap_cpe: str  # nmap's vendor:product ("" when nmap prints none)
    versions: tuple[str, ...]  # released versions, oldest first
    weight: float  # how many CVEs it gets, relatively
    port: int = 0


def _semver(majors, minors, patches, prefix=""):
    return tuple(
        f"{prefix}{a}.{b}.{c}" for a in majors for b in range(minors) for c in range(patches)
    )


def _openssh():
    versions = []
    for major in range(3, 10):
        for minor in range(10):
            versions.append(f"{major}.{minor}p1")
            if minor % 3 == 0:
                versions.append(f"{major}.{minor}p2")
    return tuple(versions)


def _openssl():
    versions = []
    for base in ("1.0.1", "1.0.2", "1.1.0", "1.1.1"):
        versions.append(base)
        versions.extend(f"{base}{chr(c)}" for c in range(ord("a"), ord("w")))
    versions += _semver([3], 4, 15)
    return tuple(versions)


REAL = [
    Product("openbsd", "openssh", "OpenSSH", "openbsd:openssh", _openssh(), 6, 22),
    Product("f5", "nginx", "nginx", "igor_sysoev:nginx", _semver([1], 26, 12), 5, 80),
    Product("apache", "http_server", "Apache httpd", "apache:http_server",
            _semver([2], 5, 60), 8, 80),
    Product("beasts", "vsftpd", "vsftpd", "beasts:vsftpd", _semver([2, 3], 4, 6), 1, 21),
    Product("isc", "bind", "ISC BIND", "isc:bind", _semver([9], 19, 40), 5, 53),
    Product("microsoft", "internet_information_services", "Microsoft IIS httpd",
            "microsoft:internet_information_services",
            ("6.0", "7.0", "7.5", "8.0", "8.5", "10.0"), 3, 80),
    Product("proftpd", "proftpd", "ProFTPD", "proftpd:proftpd", _semver([1], 4, 8, ""), 2, 21),
    Product("exim", "exim", "Exim smtpd", "exim:exim", tuple(f"4.{n}" for n in range(60, 98)),
            2, 25),
    Product("postfix", "postfix", "Postfix smtpd", "postfix:postfix", _semver([2, 3], 10, 8),
            1, 25),
    Product("oracle", "mysql", "MySQL", "mysql:mysql", _semver([5, 8], 8, 45), 9, 3306),
    Product("redis", "redis", "Redis key-value store", "redislabs:redis", _semver([5, 6, 7], 3, 18),
            2, 6379),
    Product("openssl", "openssl", "OpenSSL", "openssl:openssl", _openssl(), 6, 443),
    Product("php", "php", "PHP", "php:php", _semver([7, 8], 5, 35), 9, 80),
    Product("postgresql", "postgresql", "PostgreSQL DB", "postgresql:postgresql",
            _semver([9, 10, 11, 12, 13, 14, 15, 16], 1, 25), 4, 5432),
    Product("samba", "samba", "Samba smbd", "samba:samba", _semver([4], 20, 15), 4, 445),
    Product("eclipse", "jetty", "Jetty", "mortbay:jetty", _semver([9, 10, 11], 5, 50), 3, 8080),
    Product("apache", "tomcat", "Apache Tomcat", "apache:tomcat", _semver([7, 8, 9, 10], 6, 90),
            6, 8080),
    Product("lighttpd", "lighttpd", "lighttpd", "lighttpd:lighttpd", _semver([1], 5, 70), 1, 80),
]  # fmt: skip


def catalogue(extra: int = 300, seed: int = 7) -> list[Product]:
    """The real products above plus ``extra`` made-up ones (a few hundred pairs)."""
    rng = random.Random(seed)
    products = list(REAL)
    for n in range(extra):
        vendor = f"vendor{n // 3:03d}"
        majors = range(rng.randint(1, 4), rng.randint(5, 12))
        versions = _semver(majors, rng.randint(2, 8), rng.randint(3, 20))
        products.append(
            Product(vendor, f"product{n:03d}", "", f"{vendor}:product{n:03d}", versions,
                    rng.choice([0.2, 0.5, 1, 1, 2]), rng.choice([80, 443, 8443, 9000, 10000]))
        )  # fmt: skip
    return products


def tail(count: int = 20_000, seed: int = 9) -> list[Product]:
    """Products no host of the benchmark runs: most of NVD's CVEs concern products
    an estate does not have. A few version lines, shared."""
    rng = random.Random(seed)
    lines = [_semver(range(1, rng.randint(2, 6)), rng.randint(2, 6), rng.randint(3, 12))
             for _ in range(12)]  # fmt: skip
    return [
        Product(f"tailvendor{n // 4:04d}", f"app{n:05d}", "", "", rng.choice(lines), 1)
        for n in range(count)
    ]


CATALOGUE = catalogue()
TAIL = tail()
OS_PLATFORMS = [
    "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*",
    "cpe:2.3:o:linux:linux_kernel:-:*:*:*:*:*:*:*",
    "cpe:2.3:o:apple:macos:-:*:*:*:*:*:*:*",
]
VECTORS = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL"),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1, "HIGH"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, "HIGH"),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N", 5.4, "MEDIUM"),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, "LOW"),
]
WORDS = (
    (
        "allows remote attackers to cause a denial of service via crafted requests; heap-based "
        "buffer overflow in the parser could lead to remote code execution; improper input "
        "validation when handling headers permits information disclosure; authentication bypass; "
        "use-after-free; race condition; path traversal"
    )
    .replace(";", "")
    .split(" ")
)


def _cpe(product: Product, version: str = "*", update: str = "*") -> str:
    return f"cpe:2.3:a:{product.vendor}:{product.product}:{version}:{update}:*:*:*:*:*:*"


def _match(rng, criteria, vulnerable=True, **bounds):
    a, b, c, d, e = (rng.getrandbits(bits) for bits in (32, 16, 16, 16, 48))
    mcid = f"{a:08X}-{b:04X}-{c:04X}-{d:04X}-{e:012X}"
    return {"vulnerable": vulnerable, "criteria": criteria, **bounds, "matchCriteriaId": mcid}


def _node(matches, operator="OR"):
    return {"operator": operator, "negate": False, "cpeMatch": matches}


def _configurations(rng: random.Random, product: Product) -> list[dict]:
    """What NVD writes, in proportions like NVD's. A CVE affects a few releases of a
    branch (or the oldest ones, "before X"); the newest releases carry none, as an
    estate that patches sees."""
    versions = product.versions
    newest = max(1, int(len(versions) * 0.85))  # versions[newest:] are clean

    def span() -> tuple[str, str]:
        start = rng.randrange(0, newest)
        end = min(newest, start + 1 + int(rng.expovariate(1 / 3)))
        return versions[start], versions[end]

    def old() -> str:
        return versions[rng.randrange(0, max(1, len(versions) // 4))]

    kind = rng.random()
    if kind < 0.50:
        start, end = span()
        matches = [_match(rng, _cpe(product), versionStartIncluding=start, versionEndExcluding=end)]
    elif kind < 0.60:
        matches = [_match(rng, _cpe(product), versionEndExcluding=old())]
    elif kind < 0.72:  # one range per release branch (PHP 8.1 / 8.2 / 8.3)
        matches = []
        for _ in range(rng.randint(2, 3)):
            start, end = span()
            matches.append(
                _match(rng, _cpe(product), versionStartIncluding=start, versionEndExcluding=end)
            )
    elif kind < 0.84:
        matches = []
        for version in rng.sample(versions[:newest], min(newest, rng.randint(1, 4))):
            base, p, level = version.partition("p")
            if p and level.isdigit():  # NVD writes OpenSSH's portable level as the update
                matches.append(_match(rng, _cpe(product, base, f"p{level}")))
            else:
                matches.append(_match(rng, _cpe(product, version)))
    elif kind < 0.90:
        matches = [_match(rng, _cpe(product), versionEndIncluding=old())]
    elif kind < 0.97:  # running on a platform: AND with a non-vulnerable node
        start, end = span()
        return [
            {
                "operator": "AND",
                "nodes": [
                    _node([_match(rng, _cpe(product), versionStartIncluding=start,
                                  versionEndExcluding=end)]),
                    _node([_match(rng, rng.choice(OS_PLATFORMS), vulnerable=False)]),
                ],
            }
        ]  # fmt: skip
    else:  # every version
        matches = [_match(rng, _cpe(product))]
    configurations = [{"nodes": [_node(matches)]}]
    if rng.random() < 0.15:  # a distribution's own configuration beside it
        fedora = f"cpe:2.3:o:fedoraproject:fedora:{rng.choice([37, 38, 39, 40])}:*:*:*:*:*:*:*"
        configurations.append({"nodes": [_node([_match(rng, fedora)])]})
    return configurations


def _cvss31(vector, score, severity, source, kind):
    return {
        "source": source,
        "type": kind,
        "cvssData": {"version": "3.1", "vectorString": vector, "baseScore": score,
                     "baseSeverity": severity},
        "exploitabilityScore": 3.9,
        "impactScore": 5.9,
    }  # fmt: skip


def record(rng: random.Random, cve_id: str, year: int, product: Product) -> dict:
    vector, score, severity = rng.choice(VECTORS)
    metrics: dict = {"cvssMetricV31": [_cvss31(vector, score, severity, "nvd@nist.gov", "Primary")]}
    if rng.random() < 0.4:
        metrics["cvssMetricV31"].append(
            _cvss31(vector, score, severity, f"security@{product.vendor}.example", "Secondary")
        )
    if year < 2016:
        metrics["cvssMetricV2"] = [
            {"source": "nvd@nist.gov", "type": "Primary",
             "cvssData": {"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P",
                          "baseScore": 7.5},
             "baseSeverity": "HIGH", "exploitabilityScore": 10.0, "impactScore": 6.4}
        ]  # fmt: skip
    if rng.random() < 0.1:
        metrics["cvssMetricV40"] = [
            {"source": f"security@{product.vendor}.example", "type": "Secondary",
             "cvssData": {"version": "4.0", "vectorString": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/"
                          "VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "baseScore": 9.3,
                          "baseSeverity": "CRITICAL"}}
        ]  # fmt: skip
    text = " ".join(rng.choices(WORDS, k=rng.randint(25, 60)))
    descriptions = [{"lang": "en", "value": f"{product.product} {text}."}]
    if rng.random() < 0.5:
        descriptions.append({"lang": "es", "value": f"{product.product} {text[:120]}."})
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": f"security@{product.vendor}.example",
            "published": f"{year}-{month:02d}-{day:02d}T13:15:06.467",
            "lastModified": f"{min(year + 1, 2025)}-{month:02d}-{day:02d}T06:15:03.513",
            "vulnStatus": rng.choice(["Analyzed", "Analyzed", "Modified"]),
            "cveTags": [],
            "descriptions": descriptions,
            "metrics": metrics,
            "weaknesses": [
                {
                    "source": "nvd@nist.gov",
                    "type": "Primary",
                    "description": [
                        {"lang": "en", "value": f"CWE-{rng.choice([20, 22, 79, 787, 416, 362])}"}
                    ],
                }
            ],  # fmt: skip
            "configurations": _configurations(rng, product),
            "references": [
                {
                    "url": f"https://{product.vendor}.example/advisories/{cve_id}/{n}",
                    "source": f"security@{product.vendor}.example",
                    "tags": ["Vendor Advisory"] if n == 0 else ["Third Party Advisory"],
                }
                for n in range(rng.randint(2, 8))
            ],  # fmt: skip
        }
    }


def cve_ids(count: int) -> list[tuple[str, int]]:
    """(id, year): spread over 2000-2025, later years fuller, like NVD."""
    years = list(range(2000, 2026))
    weights = [1 + (y - 2000) * 0.5 for y in years]
    total = sum(weights)
    out: list[tuple[str, int]] = []
    for year, weight in zip(years, weights, strict=True):
        share = round(count * weight / total) if year != years[-1] else count - len(out)
        out.extend((f"CVE-{year}-{n:05d}", year) for n in range(1000, 1000 + share))
    return out[:count]


def write_nvd(
    path: Path, count: int, *, seed: int = 1, packed: bool = False, tail_share: float = 0.8
) -> list[str]:
    rng = random.Random(seed)
    weights = [p.weight for p in CATALOGUE]
    ids = cve_ids(count)
    opener = gzip.open if packed else open
    with opener(path, "wb") as out:  # type: ignore[operator]
        header = {"resultsPerPage": count, "startIndex": 0, "totalResults": count,
                  "format": "NVD_CVE", "version": "2.0",
                  "timestamp": "2025-01-01T00:00:00.000"}  # fmt: skip
        out.write(json.dumps(header)[:-1].encode() + b', "vulnerabilities": [\n')
        buffer = io.StringIO()
        for n, (cve_id, year) in enumerate(ids):
            if rng.random() < tail_share:
                product = rng.choice(TAIL)
            else:
                product = rng.choices(CATALOGUE, weights)[0]
            if n:
                buffer.write(",\n")
            buffer.write(json.dumps(record(rng, cve_id, year, product)))
            if buffer.tell() > 1 << 20:
                out.write(buffer.getvalue().encode())
                buffer = io.StringIO()
        out.write(buffer.getvalue().encode() + b"\n]}\n")
    return [cve_id for cve_id, _ in ids]


def write_kev(path: Path, ids: list[str], *, seed: int = 2, share: float = 0.006) -> int:
    rng = random.Random(seed)
    chosen = sorted(rng.sample(ids, max(1, int(len(ids) * share))))
    entries = [
        {"cveID": cve_id, "vendorProject": "Vendor", "product": "Product",
         "vulnerabilityName": f"{cve_id} vulnerability", "dateAdded": f"{cve_id[4:8]}-06-12",
         "shortDescription": "A vulnerability that is exploited.",
         "requiredAction": "Apply updates per vendor instructions.",
         "dueDate": f"{cve_id[4:8]}-07-03",
         "knownRansomwareCampaignUse": rng.choice(["Known", "Unknown", "Unknown"]),
         "notes": "", "cwes": ["CWE-20"]}
        for cve_id in chosen
    ]  # fmt: skip
    path.write_text(
        json.dumps(
            {"title": "CISA Catalog of Known Exploited Vulnerabilities",
             "catalogVersion": "2025.01.01", "dateReleased": "2025-01-01T14:00:00.0000Z",
             "count": len(entries), "vulnerabilities": entries},
            indent=2,
        )
    )  # fmt: skip
    return len(entries)


def write_epss(path: Path, ids: list[str], *, seed: int = 3) -> int:
    rng = random.Random(seed)
    scores = [round(min(1.0, rng.betavariate(0.3, 8)), 5) for _ in ids]
    ranked = sorted(range(len(ids)), key=scores.__getitem__)
    percentile = [0.0] * len(ids)
    for rank, at in enumerate(ranked):
        percentile[at] = round((rank + 1) / len(ids), 5)
    with gzip.open(path, "wt", newline="") as out:
        out.write("#model_version:v2023.03.01,score_date:2025-01-01T00:00:00+0000\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["cve", "epss", "percentile"])
        for cve_id, score, share in zip(ids, scores, percentile, strict=True):
            writer.writerow([cve_id, f"{score:.5f}", f"{share:.5f}"])
    return len(ids)


def inventory(rng: random.Random, services: int = 3) -> list[dict]:
    """One host's services, as nmap would report them, for feeds_bench.py: mostly
    products of the catalogue at one of their versions (some at a distribution's
    build, some with no CPE, some with no version), a few unknown services."""
    weights = [p.weight for p in CATALOGUE]
    items = []
    for n in range(services):
        luck = rng.random()
        if luck < 0.05:
            items.append({"port": 10000 + n, "protocol": "tcp", "product": "", "version": "",
                          "cpes": [], "banner": ""})  # fmt: skip
            continue
        product = rng.choices(CATALOGUE, weights)[0]
        versions = product.versions
        if rng.random() < 0.5:  # kept up to date: one of the newest releases
            version = rng.choice(versions[max(1, int(len(versions) * 0.85)) :])
        else:
            version = rng.choice(versions)
        shown = version
        if luck < 0.15:
            shown = f"{version}-0ubuntu0.20.04.{rng.randint(1, 9)}"
        cpes = [f"cpe:/a:{product.nmap_cpe}:{shown}"]
        if luck > 0.95:
            shown, cpes = "", [f"cpe:/a:{product.nmap_cpe}"]
        elif 0.85 < luck <= 0.95 and product.nmap_name:
            cpes = []  # nmap named the product but printed no CPE
        items.append({"port": product.port or 8000 + n, "protocol": "tcp",
                      "product": product.nmap_name, "version": shown, "cpes": cpes,
                      "banner": ""})  # fmt: skip
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=250_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--gzip", action="store_true", help="write the NVD file gzip-compressed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--tail-share", type=float, default=0.8, help="share of records on products no host runs"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"nvdcve-2.0-bench-{args.records}.json" + (".gz" if args.gzip else "")
    started = time.perf_counter()
    ids = write_nvd(
        args.out / name, args.records, seed=args.seed, packed=args.gzip, tail_share=args.tail_share
    )
    kev_count = write_kev(args.out / f"kev-bench-{args.records}.json", ids)
    write_epss(args.out / f"epss-bench-{args.records}.csv.gz", ids)
    took = time.perf_counter() - started
    size = (args.out / name).stat().st_size
    print(f"{args.out / name}: {len(ids):,} CVE records, {size / 1e6:,.1f} MB")
    print(f"{args.out}/kev-bench-{args.records}.json: {kev_count:,} entries")
    print(f"{args.out}/epss-bench-{args.records}.csv.gz: {len(ids):,} scores")
    print(f"written in {took:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
