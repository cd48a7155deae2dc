"""Information gathered (severity 1, kind "info"): what nmap saw on a host."""

from .entry import entry

_COMMON = {"severity": 1, "kind": "info", "category": "Information gathering", "check": "info"}

ENTRIES = [
    entry(
        45001,
        "Open TCP services list",
        diagnosis="""The scanner found these TCP ports open on the host with a full TCP
        connect. The results list each port with the service nmap associates with it.""",
        consequence="""Every open port is attack surface. Unexpected ports often belong to
        forgotten test services, management interfaces or software installed as a
        dependency.""",
        solution="""Review the list. Close or firewall every port that has no business
        reason to be reachable from this network.""",
        **_COMMON,
    ),
    entry(
        45002,
        "Open UDP services list",
        diagnosis="""The scanner received an answer on these UDP ports. UDP ports that stay
        silent are reported by nmap as "open|filtered" and are not listed.""",
        consequence="""UDP services (DNS, SNMP, NTP, TFTP, SSDP) are often reachable by
        mistake and are abused for information disclosure and traffic amplification.""",
        solution="Disable or firewall the UDP services that are not needed.",
        **_COMMON,
    ),
    entry(
        45003,
        "Service detected on port",
        diagnosis="""nmap's service detection identified the protocol, and where it could
        the product and version, listening on this port.""",
        consequence="""Product names and versions let an attacker look up the known
        vulnerabilities of exactly this software.""",
        solution="""Keep the software current. Where the product allows it, hide version
        details from banners.""",
        **_COMMON,
    ),
    entry(
        45004,
        "Operating system detected",
        diagnosis="""The scanner's best guess of the operating system, from nmap OS
        fingerprinting when available, otherwise from hints in service banners (for
        example "Ubuntu Linux" in an SSH banner).""",
        consequence="Knowing the operating system narrows the exploits an attacker tries.",
        solution="No action is required. Check that the guess matches your inventory.",
        **_COMMON,
    ),
    entry(
        45005,
        "Host names",
        diagnosis="""Names the scanner learned for this address (DNS, NetBIOS). Scans run
        without reverse DNS inside isolated networks, so this is often empty.""",
        consequence="Host names reveal roles and naming conventions.",
        solution="No action is required.",
        **_COMMON,
    ),
    entry(
        45006,
        "Scan information",
        diagnosis="""How this host was scanned: engine and nmap versions, ports, whether
        service detection was on, and which checks ran to completion.""",
        consequence="""A check that did not run cannot confirm that a vulnerability was
        fixed: its earlier detections keep their status until it runs again.""",
        solution="No action is required.",
        **_COMMON,
    ),
]
