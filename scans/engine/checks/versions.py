"""Version rules: a product version that nmap detected, mapped to known CVEs.

No network I/O: this reads nmap's ``-sV`` product and version. Distributions
backport fixes without changing the upstream version (Debian's "OpenSSH
9.2p1 Debian 2+deb12u3" is patched against regreSSHion), so every rule is a
*potential* vulnerability: the KB says so and tells how to confirm it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.results import Finding, HostResult, Service

from .base import Check

Version = tuple[int, ...]
_VERSION = re.compile(r"(\d+(?:\.\d+){0,3})(?:p(\d+))?")


def version_key(text: str) -> Version | None:
    """A comparable key for "2.4.49", "9.3p2", "1.20.0"; None if there is no version.

    Four numeric parts (missing ones are 0) then the OpenSSH portable level,
    so 9.3 < 9.3p1 < 9.3p2 < 9.4.
    """
    match = _VERSION.match(text.strip())
    if not match:
        return None
    parts = [int(p) for p in match.group(1).split(".")]
    parts += [0] * (4 - len(parts))
    return (*parts, int(match.group(2) or 0))


@dataclass(frozen=True)
class Rule:
    """Product versions in any ``[introduced, fixed)`` range have the QID's CVEs."""

    qid: int
    product: str  # nmap's product name, compared case-insensitively
    ranges: tuple[tuple[str | None, str | None], ...]  # None = no lower / upper bound

    def matches(self, product: str, version: str) -> bool:
        if product.strip().lower() != self.product.lower():
            return False
        key = version_key(version)
        if key is None:
            return False
        for introduced, fixed in self.ranges:
            low = version_key(introduced) if introduced else None
            high = version_key(fixed) if fixed else None
            if (low is None or key >= low) and (high is None or key < high):
                return True
        return False

    def describe(self) -> str:
        parts = []
        for introduced, fixed in self.ranges:
            if introduced and fixed:
                parts.append(f"{introduced} up to before {fixed}")
            elif fixed:
                parts.append(f"before {fixed}")
            elif introduced:
                parts.append(f"{introduced} and later")
        return "; ".join(parts)


OPENSSH, APACHE, NGINX, VSFTPD = "OpenSSH", "Apache httpd", "nginx", "vsftpd"

RULES: list[Rule] = [
    # OpenSSH (portable versions: "p" levels matter)
    Rule(38700, OPENSSH, ((None, "4.4p1"), ("8.5p1", "9.8p1"))),  # CVE-2024-6387 regreSSHion
    Rule(38701, OPENSSH, ((None, "9.3p2"),)),  # CVE-2023-38408 ssh-agent PKCS#11
    Rule(38702, OPENSSH, (("9.1", "9.2"),)),  # CVE-2023-25136 pre-auth double free
    Rule(38703, OPENSSH, ((None, "7.8"),)),  # CVE-2018-15473 user enumeration
    Rule(38704, OPENSSH, ((None, "7.3"),)),  # CVE-2016-6210 user enumeration (timing)
    Rule(38705, OPENSSH, ((None, "7.4"),)),  # CVE-2016-10009..10012
    Rule(38706, OPENSSH, (("6.0", "7.4"),)),  # CVE-2016-8858 KEXINIT memory exhaustion
    Rule(38707, OPENSSH, (("6.2", "8.8"),)),  # CVE-2021-41617 AuthorizedKeysCommand
    Rule(38708, OPENSSH, ((None, "7.0"),)),  # CVE-2015-5600 MaxAuthTries bypass
    Rule(38709, OPENSSH, ((None, "9.6"),)),  # CVE-2023-51385 ProxyCommand injection
    Rule(38710, OPENSSH, (("6.8p1", "9.9p2"),)),  # CVE-2025-26465 / CVE-2025-26466
    # Apache httpd
    Rule(86100, APACHE, (("2.4.49", "2.4.50"),)),  # CVE-2021-41773
    Rule(86101, APACHE, (("2.4.49", "2.4.51"),)),  # CVE-2021-42013
    Rule(86102, APACHE, (("2.4.7", "2.4.49"),)),  # CVE-2021-40438 mod_proxy SSRF
    Rule(86103, APACHE, (("2.4.0", "2.4.52"),)),  # CVE-2021-44790 mod_lua
    Rule(86104, APACHE, (("2.4.0", "2.4.53"),)),  # CVE-2022-22720 request smuggling
    Rule(86105, APACHE, (("2.4.0", "2.4.54"),)),  # CVE-2022-31813 X-Forwarded-*
    Rule(86106, APACHE, (("2.4.0", "2.4.56"),)),  # CVE-2023-25690 mod_proxy smuggling
    Rule(86107, APACHE, (("2.4.0", "2.4.60"),)),  # CVE-2024-38474/38475/38476
    Rule(86108, APACHE, (("2.4.17", "2.4.39"),)),  # CVE-2019-0211 scoreboard
    Rule(86109, APACHE, (("2.4.0", "2.4.30"),)),  # CVE-2017-15715 FilesMatch
    Rule(86110, APACHE, ((None, "2.2.35"), ("2.4.0", "2.4.28"))),  # CVE-2017-9798 Optionsbleed
    Rule(86111, APACHE, (("2.4.0", "2.4.58"),)),  # CVE-2023-31122 mod_macro
    Rule(86112, APACHE, (("2.4.17", "2.4.59"),)),  # CVE-2024-27316 HTTP/2 CONTINUATION
    Rule(86113, APACHE, ((None, "2.3"),)),  # 2.2 and older: end of life
    Rule(86114, APACHE, (("2.4.7", "2.4.52"),)),  # CVE-2021-44224 forward proxy
    # nginx (mainline and stable branches get fixes in different releases)
    Rule(86200, NGINX, (("0.6.18", "1.20.1"),)),  # CVE-2021-23017 resolver
    Rule(86201, NGINX, (("1.3.9", "1.4.1"),)),  # CVE-2013-2028 chunked encoding
    Rule(86202, NGINX, (("0.5.6", "1.12.1"), ("1.13.0", "1.13.3"))),  # CVE-2017-7529
    Rule(86203, NGINX, (("1.9.5", "1.16.1"), ("1.17.0", "1.17.3"))),  # HTTP/2 DoS 2019
    Rule(86204, NGINX, (("1.1.3", "1.22.1"), ("1.23.0", "1.23.2"))),  # CVE-2022-41741/41742
    Rule(86205, NGINX, (("1.3.9", "1.10.1"), ("1.11.0", "1.11.1"))),  # CVE-2016-4450
    Rule(86206, NGINX, (("1.9.5", "1.25.3"),)),  # CVE-2023-44487 rapid reset
    Rule(86207, NGINX, (("1.5.13", "1.26.2"), ("1.27.0", "1.27.1"))),  # CVE-2024-7347
    Rule(86208, NGINX, (("1.3.15", "1.4.7"), ("1.5.0", "1.5.12"))),  # CVE-2014-0133 SPDY
    # vsftpd
    Rule(27100, VSFTPD, (("2.3.4", "2.3.5"),)),  # CVE-2011-2523 backdoored tarball
    Rule(27101, VSFTPD, ((None, "2.3.3"),)),  # CVE-2011-0762 glob DoS
    Rule(27102, VSFTPD, ((None, "3.0.3"),)),  # CVE-2015-1419 deny_file bypass
    Rule(27103, VSFTPD, ((None, "3.0.4"),)),  # CVE-2021-3618 ALPACA
]


def service_findings(service: Service, rules: list[Rule] = RULES) -> list[Finding]:
    """Findings for one detected service version (no network I/O)."""
    out = []
    for rule in rules:
        if rule.matches(service.product, service.version):
            evidence = (
                f"Detected {service.product} {service.version} on {service.port}/"
                f"{service.protocol}; affected versions: {rule.describe()}"
            )
            out.append(Finding(rule.qid, service.port, service.protocol, evidence))
    return out


class VersionsCheck(Check):
    name = "versions"

    def check_host(self, host: HostResult) -> list[Finding]:
        findings: list[Finding] = []
        for service in host.services:
            if service.product and service.version:
                findings.extend(service_findings(service))
        return findings
