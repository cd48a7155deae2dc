"""Feed files written by the tests, in the real formats.

The CVE records copy NVD's CVE API / feed JSON 2.0 as NVD publishes them
(field names, nesting, the configuration of each CVE as NVD analysed it,
Primary and Secondary metrics, the same URL listed by two sources); long
lists (references, other vendors' configurations) are shortened. The KEV
catalog and the EPSS CSV follow CISA's and FIRST's files.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path


def _cvss31(source, kind, vector, score, severity, exploitability, impact):
    metrics = dict(
        zip(
            (
                "attackVector",
                "attackComplexity",
                "privilegesRequired",
                "userInteraction",
                "scope",
                "confidentialityImpact",
                "integrityImpact",
                "availabilityImpact",
            ),
            _V31_WORDS[vector],
            strict=True,
        )
    )
    return {
        "source": source,
        "type": kind,
        "cvssData": {
            "version": "3.1",
            "vectorString": vector,
            **metrics,
            "baseScore": score,
            "baseSeverity": severity,
        },
        "exploitabilityScore": exploitability,
        "impactScore": impact,
    }


_V31_WORDS = {
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H": (
        "NETWORK",
        "HIGH",
        "NONE",
        "NONE",
        "UNCHANGED",
        "HIGH",
        "HIGH",
        "HIGH",
    ),  # fmt: skip
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N": (
        "NETWORK",
        "LOW",
        "NONE",
        "NONE",
        "UNCHANGED",
        "HIGH",
        "NONE",
        "NONE",
    ),  # fmt: skip
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:L": (
        "NETWORK",
        "HIGH",
        "NONE",
        "NONE",
        "UNCHANGED",
        "HIGH",
        "HIGH",
        "LOW",
    ),  # fmt: skip
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": (
        "NETWORK",
        "LOW",
        "NONE",
        "NONE",
        "UNCHANGED",
        "HIGH",
        "HIGH",
        "HIGH",
    ),  # fmt: skip
    "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H": (
        "NETWORK",
        "LOW",
        "HIGH",
        "NONE",
        "UNCHANGED",
        "HIGH",
        "HIGH",
        "HIGH",
    ),  # fmt: skip
}


def _match(criteria, match_id, vulnerable=True, **bounds):
    return {"vulnerable": vulnerable, "criteria": criteria, **bounds, "matchCriteriaId": match_id}


def _node(*matches, operator="OR", negate=False):
    return {"operator": operator, "negate": negate, "cpeMatch": list(matches)}


def _ref(url, source, *tags):
    return {"url": url, "source": source, **({"tags": list(tags)} if tags else {})}


# regreSSHion, as NVD analysed it: before 4.4, 8.6 up to (excluding) 9.8, and the
# versions NVD lists one by one (4.4 without update, 8.5p1, 9.8 without update).
CVE_2024_6387 = {
    "cve": {
        "id": "CVE-2024-6387",
        "sourceIdentifier": "secalert@redhat.com",
        "published": "2024-07-01T13:15:06.467",
        "lastModified": "2024-07-09T06:15:03.513",
        "vulnStatus": "Modified",
        "cveTags": [],
        "descriptions": [
            {
                "lang": "en",
                "value": "A security regression (CVE-2006-5051) was discovered in OpenSSH's "
                "server (sshd). There is a race condition which can lead to sshd to handle some "
                "signals in an unsafe manner. An unauthenticated, remote attacker may be able to "
                "trigger it by failing to authenticate within a set time period.",
            },
            {
                "lang": "es",
                "value": "Se encontr\u00f3 una condici\u00f3n de ejecuci\u00f3n del "
                "controlador de se\u00f1ales en el servidor de OpenSSH (sshd).",
            },
        ],
        "metrics": {
            "cvssMetricV31": [
                _cvss31(
                    "nvd@nist.gov",
                    "Primary",
                    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    8.1,
                    "HIGH",
                    2.2,
                    5.9,
                ),
                _cvss31(
                    "secalert@redhat.com",
                    "Secondary",
                    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    8.1,
                    "HIGH",
                    2.2,
                    5.9,
                ),
            ]
        },
        "weaknesses": [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "description": [{"lang": "en", "value": "CWE-362"}],
            },
            {
                "source": "secalert@redhat.com",
                "type": "Secondary",
                "description": [{"lang": "en", "value": "CWE-364"}],
            },
        ],
        "configurations": [
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*",
                            "1102FFF5-77B1-400E-93F8-AC6CFE2CC93C",
                            versionEndExcluding="4.4",
                        ),
                        _match(
                            "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*",
                            "EC13B91D-82A4-48B1-83AB-EC129C83D316",
                            versionStartIncluding="8.6",
                            versionEndExcluding="9.8",
                        ),
                        _match(
                            "cpe:2.3:a:openbsd:openssh:4.4:-:*:*:*:*:*:*",
                            "4C37CBBB-A4AA-40D0-9609-0620FDC12BA8",
                        ),
                        _match(
                            "cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*",
                            "7945F60B-460E-4CA6-9EB4-BEE663386D50",
                        ),
                        _match(
                            "cpe:2.3:a:openbsd:openssh:9.8:-:*:*:*:*:*:*",
                            "BF2C0441-653D-4BD3-A45D-D97C929A596F",
                        ),
                    )
                ]
            },
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:redhat:openshift_container_platform:4.0:*:*:*:*:*:*:*",
                            "932D137F-528B-4526-9A89-CD59FA1AB0FE",
                        ),
                        _match(
                            "cpe:2.3:o:redhat:enterprise_linux:9.0:*:*:*:*:*:*:*",
                            "7F6FB57C-2BC7-487C-96DD-132683AEB35D",
                        ),
                    )
                ]
            },
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:netapp:e-series_santricity_os_controller:*:*:*:*:*:*:*:*",
                            "8C5DA53D-744B-4087-AEA9-257F18949E4D",
                            versionStartIncluding="11.0.0",
                            versionEndIncluding="11.70.2",
                        ),
                        _match(
                            "cpe:2.3:a:netapp:ontap_select_deploy_administration_utility:-:*:*:*:*:*:*:*",
                            "E7CF3019-975D-40BB-A8A4-894E62BD3797",
                        ),
                    )
                ]
            },
        ],
        "references": [
            _ref(
                "http://www.openwall.com/lists/oss-security/2024/07/01/12",
                "secalert@redhat.com",
                "Mailing List",
                "Third Party Advisory",
            ),
            _ref(
                "https://access.redhat.com/security/cve/CVE-2024-6387",
                "secalert@redhat.com",
                "Third Party Advisory",
            ),
            _ref(
                "https://www.qualys.com/2024/07/01/cve-2024-6387/regresshion.txt",
                "secalert@redhat.com",
                "Exploit",
                "Technical Description",
            ),
            # NVD lists the same URL again under CISA-ADP's source id.
            _ref(
                "http://www.openwall.com/lists/oss-security/2024/07/01/12",
                "af854a3a-2127-422b-91ae-364da2661108",
                "Mailing List",
            ),
        ],
    }
}

# Apache HTTP Server path traversal: 2.4.49 exactly; in CISA's KEV (NVD copies it).
CVE_2021_41773 = {
    "cve": {
        "id": "CVE-2021-41773",
        "sourceIdentifier": "security@apache.org",
        "published": "2021-10-05T09:15:07.593",
        "lastModified": "2024-07-26T19:40:13.757",
        "vulnStatus": "Analyzed",
        "cveTags": [],
        "cisaExploitAdd": "2021-11-03",
        "cisaActionDue": "2021-11-17",
        "cisaRequiredAction": "Apply updates per vendor instructions.",
        "cisaVulnerabilityName": "Apache HTTP Server Path Traversal Vulnerability",
        "descriptions": [
            {
                "lang": "en",
                "value": "A flaw was found in a change made to path normalization in Apache HTTP "
                "Server 2.4.49. An attacker could use a path traversal attack to map URLs to files "
                "outside the directories configured by Alias-like directives. This issue only "
                "affects Apache 2.4.49 and not earlier versions.",
            }
        ],
        "metrics": {
            "cvssMetricV31": [
                _cvss31(
                    "nvd@nist.gov",
                    "Primary",
                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                    7.5,
                    "HIGH",
                    3.9,
                    3.6,
                )
            ],
            "cvssMetricV2": [
                {
                    "source": "nvd@nist.gov",
                    "type": "Primary",
                    "cvssData": {
                        "version": "2.0",
                        "vectorString": "AV:N/AC:M/Au:N/C:P/I:N/A:N",
                        "accessVector": "NETWORK",
                        "accessComplexity": "MEDIUM",
                        "authentication": "NONE",
                        "confidentialityImpact": "PARTIAL",
                        "integrityImpact": "NONE",
                        "availabilityImpact": "NONE",
                        "baseScore": 4.3,
                    },
                    "baseSeverity": "MEDIUM",
                    "exploitabilityScore": 8.6,
                    "impactScore": 2.9,
                    "acInsufInfo": False,
                    "obtainAllPrivilege": False,
                    "obtainUserPrivilege": False,
                    "obtainOtherPrivilege": False,
                    "userInteractionRequired": False,
                }
            ],
        },
        "weaknesses": [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "description": [{"lang": "en", "value": "CWE-22"}],
            }
        ],
        "configurations": [
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*",
                            "B201CFB2-F626-4DD0-9F6A-DFE8F64203E2",
                        )
                    )
                ]
            },
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:o:fedoraproject:fedora:34:*:*:*:*:*:*:*",
                            "A930E247-0B43-43CB-98FF-6CE7B8189835",
                        ),
                        _match(
                            "cpe:2.3:o:fedoraproject:fedora:35:*:*:*:*:*:*:*",
                            "80E516C0-98A4-4ADE-B69F-66A772E2BAAA",
                        ),
                    )
                ]
            },
        ],
        "references": [
            _ref(
                "https://httpd.apache.org/security/vulnerabilities_24.html",
                "security@apache.org",
                "Release Notes",
                "Vendor Advisory",
            )
        ],
    }
}

# nginx resolver off-by-one: NVD names the product f5:nginx, 0.6.18 up to (excluding) 1.20.1.
CVE_2021_23017 = {
    "cve": {
        "id": "CVE-2021-23017",
        "sourceIdentifier": "f5sirt@f5.com",
        "published": "2021-06-01T13:15:07.853",
        "lastModified": "2024-11-21T05:51:09.480",
        "vulnStatus": "Modified",
        "cveTags": [],
        "descriptions": [
            {
                "lang": "en",
                "value": "A security issue in nginx resolver was identified, which might allow an "
                "attacker who is able to forge UDP packets from the DNS server to cause 1-byte "
                "memory overwrite, resulting in worker process crash or potential other impact.",
            }
        ],
        "metrics": {
            "cvssMetricV31": [
                _cvss31(
                    "nvd@nist.gov",
                    "Primary",
                    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:L",
                    7.7,
                    "HIGH",
                    2.2,
                    5.5,
                )
            ]
        },
        "weaknesses": [
            {
                "source": "f5sirt@f5.com",
                "type": "Secondary",
                "description": [{"lang": "en", "value": "CWE-193"}],
            },
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "description": [{"lang": "en", "value": "CWE-193"}],
            },
        ],
        "configurations": [
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*",
                            "236E1381-BE09-4C0B-9319-E803B7163ECC",
                            versionStartIncluding="0.6.18",
                            versionEndExcluding="1.20.1",
                        )
                    )
                ]
            },
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:openresty:openresty:*:*:*:*:*:*:*:*",
                            "BD31F1B9-1CDB-4547-A19D-6A416FC45510",
                            versionEndExcluding="1.19.3.2",
                        )
                    )
                ]
            },
        ],
        "references": [
            _ref(
                "http://mailman.nginx.org/pipermail/nginx-announce/2021/000300.html",
                "f5sirt@f5.com",
                "Mailing List",
                "Patch",
                "Vendor Advisory",
            ),
            _ref("https://support.f5.com/csp/article/K12331123%2C", "f5sirt@f5.com"),
        ],
    }
}

# PHP-CGI argument injection: the CNA's ("Secondary") metric listed before NVD's.
CVE_2024_4577 = {
    "cve": {
        "id": "CVE-2024-4577",
        "sourceIdentifier": "security@php.net",
        "published": "2024-06-09T20:15:09.550",
        "lastModified": "2025-03-21T20:18:54.330",
        "vulnStatus": "Analyzed",
        "cveTags": [],
        "descriptions": [
            {
                "lang": "en",
                "value": "In PHP versions\u00a08.1.* before 8.1.29, 8.2.* before 8.2.20, 8.3.* "
                "before 8.3.8, when using Apache and PHP-CGI on Windows, if the system is set up "
                'to use certain code pages, Windows may use "Best-Fit" behavior to replace '
                "characters in command line given to\u00a0Win32 API functions.",
            }
        ],
        "metrics": {
            "cvssMetricV31": [
                _cvss31(
                    "security@php.net",
                    "Secondary",
                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    9.8,
                    "CRITICAL",
                    3.9,
                    5.9,
                ),
                _cvss31(
                    "nvd@nist.gov",
                    "Primary",
                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    9.8,
                    "CRITICAL",
                    3.9,
                    5.9,
                ),
            ]
        },
        "cisaExploitAdd": "2024-06-12",
        "cisaActionDue": "2024-07-03",
        "cisaRequiredAction": "Apply mitigations per vendor instructions or discontinue use of "
        "the product if mitigations are unavailable.",
        "cisaVulnerabilityName": "PHP-CGI OS Command Injection Vulnerability",
        "weaknesses": [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "description": [{"lang": "en", "value": "CWE-78"}],
            }
        ],
        "configurations": [
            {
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:a:php:php:*:*:*:*:*:*:*:*",
                            "7DC2EEF8-834B-42A1-8DA3-0C2CF22A7070",
                            versionStartIncluding="8.1.0",
                            versionEndExcluding="8.1.29",
                        ),
                        _match(
                            "cpe:2.3:a:php:php:*:*:*:*:*:*:*:*",
                            "A39988FF-D854-4277-9D66-6911AF371DD3",
                            versionStartIncluding="8.2.0",
                            versionEndExcluding="8.2.20",
                        ),
                        _match(
                            "cpe:2.3:a:php:php:*:*:*:*:*:*:*:*",
                            "F579FFC1-4F81-4755-B14B-3AA73AC9FF7A",
                            versionStartIncluding="8.3.0",
                            versionEndExcluding="8.3.8",
                        ),
                    )
                ]
            }
        ],
        "references": [
            _ref(
                "https://www.php.net/ChangeLog-8.php#8.1.29",
                "security@php.net",
                "Release Notes",
            )
        ],
    }
}

# A firmware "running on" its hardware: NVD's AND configuration, the platform
# (the router) not vulnerable itself.
CVE_2023_31740 = {
    "cve": {
        "id": "CVE-2023-31740",
        "sourceIdentifier": "cve@mitre.org",
        "published": "2023-05-23T01:15:10.000",
        "lastModified": "2023-05-31T00:26:35.690",
        "vulnStatus": "Analyzed",
        "descriptions": [
            {
                "lang": "en",
                "value": "There is a command injection vulnerability in the Linksys E2000 "
                "router with firmware version 1.0.06.",
            }
        ],
        "metrics": {
            "cvssMetricV31": [
                _cvss31(
                    "nvd@nist.gov",
                    "Primary",
                    "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
                    7.2,
                    "HIGH",
                    1.2,
                    5.9,
                )
            ]
        },
        "weaknesses": [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "description": [{"lang": "en", "value": "CWE-77"}],
            }
        ],
        "configurations": [
            {
                "operator": "AND",
                "nodes": [
                    _node(
                        _match(
                            "cpe:2.3:o:linksys:e2000_firmware:1.0.06:*:*:*:*:*:*:*",
                            "FE947E51-AD41-462E-B0B6-69A21F7D670A",
                        )
                    ),
                    _node(
                        _match(
                            "cpe:2.3:h:linksys:e2000:-:*:*:*:*:*:*:*",
                            "8052B407-172A-4A6B-983C-074F0FD1F8DB",
                            vulnerable=False,
                        )
                    ),
                ],
            }
        ],
        "references": [_ref("http://linksys.com", "cve@mitre.org", "Product")],
    }
}

# A withdrawn CVE, as NVD keeps it: status Rejected, no configurations.
CVE_REJECTED = {
    "cve": {
        "id": "CVE-2023-0001",
        "sourceIdentifier": "cve@mitre.org",
        "published": "2023-01-02T10:15:09.000",
        "lastModified": "2023-03-01T12:00:00.000",
        "vulnStatus": "Rejected",
        "descriptions": [
            {
                "lang": "en",
                "value": "Rejected reason: This candidate is unused by its CNA.",
            }
        ],
        "metrics": {},
        "references": [],
    }
}

RECORDS = [CVE_2024_6387, CVE_2021_41773, CVE_2021_23017, CVE_2024_4577, CVE_2023_31740]


def cve(
    cve_id: str,
    *matches: dict,
    operator: str | None = None,
    nodes: list[dict] | None = None,
    score: float = 7.5,
) -> dict:
    """A record in NVD's shape with the given criteria in one OR node (or ``nodes``)."""
    configuration = {"nodes": nodes if nodes is not None else [_node(*matches)]}
    if operator:
        configuration["operator"] = operator
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": "cve@mitre.org",
            "published": "2024-01-02T10:15:09.000",
            "lastModified": "2024-01-03T10:15:09.000",
            "vulnStatus": "Analyzed",
            "descriptions": [{"lang": "en", "value": f"Test vulnerability {cve_id}."}],
            "metrics": {
                "cvssMetricV31": [
                    _cvss31(
                        "nvd@nist.gov",
                        "Primary",
                        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                        score,
                        "HIGH",
                        3.9,
                        3.6,
                    )
                ]
            },
            "configurations": [configuration],
            "references": [],
        }
    }


def criterion(criteria: str, vulnerable: bool = True, **bounds) -> dict:
    return _match(criteria, "00000000-0000-0000-0000-000000000000", vulnerable, **bounds)


def node(*matches: dict, operator: str = "OR", negate: bool = False) -> dict:
    return _node(*matches, operator=operator, negate=negate)


def nvd_document(records: list[dict], timestamp: str = "2024-07-10T03:00:01.123") -> dict:
    """A feed file's content: the header NVD writes, then the records."""
    return {
        "resultsPerPage": len(records),
        "startIndex": 0,
        "totalResults": len(records),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": timestamp,
        "vulnerabilities": copy.deepcopy(records),
    }


def nvd_bytes(records: list[dict] | None = None, **header) -> bytes:
    document = nvd_document(RECORDS if records is None else records)
    document.update(header)
    return json.dumps(document, indent=2).encode()


KEV_ENTRIES = [
    {
        "cveID": "CVE-2021-41773",
        "vendorProject": "Apache",
        "product": "HTTP Server",
        "vulnerabilityName": "Apache HTTP Server Path Traversal Vulnerability",
        "dateAdded": "2021-11-03",
        "shortDescription": "Apache HTTP Server contains a path traversal vulnerability that "
        "allows an attacker to perform remote code execution if files outside directories "
        "configured by Alias-like directives are not under default \u201crequire all "
        "denied\u201d and CGI is explicitly enabled.",
        "requiredAction": "Apply updates per vendor instructions.",
        "dueDate": "2021-11-17",
        "knownRansomwareCampaignUse": "Unknown",
        "notes": "https://nvd.nist.gov/vuln/detail/CVE-2021-41773",
        "cwes": ["CWE-22"],
    },
    {
        "cveID": "CVE-2024-4577",
        "vendorProject": "PHP Group",
        "product": "PHP",
        "vulnerabilityName": "PHP-CGI OS Command Injection Vulnerability",
        "dateAdded": "2024-06-12",
        "shortDescription": "PHP, specifically Windows-based PHP used in CGI mode, contains an OS "
        "command injection vulnerability that allows for arbitrary code execution.",
        "requiredAction": "Apply mitigations per vendor instructions or discontinue use of the "
        "product if mitigations are unavailable.",
        "dueDate": "2024-07-03",
        "knownRansomwareCampaignUse": "Known",
        "notes": "https://www.php.net/ChangeLog-8.php#8.1.29 ; "
        "https://nvd.nist.gov/vuln/detail/CVE-2024-4577",
        "cwes": ["CWE-78"],
    },
]


def kev_bytes(entries: list[dict] | None = None, **header) -> bytes:
    entries = KEV_ENTRIES if entries is None else entries
    document = {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2024.07.09",
        "dateReleased": "2024-07-09T14:00:19.9781Z",
        "count": len(entries),
        "vulnerabilities": copy.deepcopy(entries),
    }
    document.update(header)
    return json.dumps(document, indent="    ").encode()


EPSS_LINES = [
    "#model_version:v2023.03.01,score_date:2024-07-09T00:00:00+0000",
    "cve,epss,percentile",
    "CVE-1999-0001,0.01141,0.84058",
    "CVE-2021-41773,0.97471,0.99969",
    "CVE-2021-23017,0.59516,0.97879",
    "CVE-2024-6387,0.94406,0.99938",
]


def epss_bytes(lines: list[str] | None = None) -> bytes:
    return ("\n".join(EPSS_LINES if lines is None else lines) + "\n").encode()


def write(path: Path, content: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(content) if gz else content)
    return path
