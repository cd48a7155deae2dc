"""Sample result files of each format Enclave imports, written by the tests.

Each builder takes plain hosts and returns the file's bytes, shaped like the real
exports (element names, nesting, attributes, the DOCTYPE Qualys puts on top).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr


@dataclass
class Vuln:
    id: str  # plugin id, NVT OID, QID
    title: str = "Sample vulnerability"
    severity: int = 2  # the source's own scale
    port: int = 443
    protocol: str = "tcp"
    output: str = "evidence"
    cves: tuple[str, ...] = ()
    cvss: float | None = None
    cvss3: float | None = None
    solution: str = "Upgrade."
    synopsis: str = "The remote host is vulnerable."
    description: str = "A long description."
    family: str = "General"
    type: str = "Vuln"
    status: str = "Active"
    qod: int = 80
    first_found: str = "2024-01-02T03:04:05Z"
    last_found: str = "2024-06-07T08:09:10Z"


@dataclass
class Box:
    ip: str
    name: str = ""
    netbios: str = ""
    os: str = ""
    vulns: list[Vuln] = field(default_factory=list)


def nessus(hosts: list[Box], *, report_name: str = "weekly") -> bytes:
    out = [
        '<?xml version="1.0" ?>',
        "<NessusClientData_v2>",
        "<Policy><policyName>p</policyName></Policy>",
    ]
    out.append(f'<Report name={quoteattr(report_name)} xmlns:cm="http://www.nessus.org/cm">')
    for h in hosts:
        out.append(f"<ReportHost name={quoteattr(h.ip or h.name)}><HostProperties>")
        out.append('<tag name="HOST_START">Tue Mar 12 10:00:00 2024</tag>')
        if h.ip:
            out.append(f'<tag name="host-ip">{escape(h.ip)}</tag>')
        if h.name:
            out.append(f'<tag name="host-fqdn">{escape(h.name)}</tag>')
        if h.netbios:
            out.append(f'<tag name="netbios-name">{escape(h.netbios)}</tag>')
        if h.os:
            out.append(f'<tag name="operating-system">{escape(h.os)}</tag>')
        out.append("</HostProperties>")
        for v in h.vulns:
            out.append(
                f'<ReportItem port="{v.port}" svc_name="www" protocol="{v.protocol}" '
                f'severity="{v.severity}" pluginID="{v.id}" pluginName={quoteattr(v.title)} '
                f"pluginFamily={quoteattr(v.family)}>"
            )
            out.append(f"<description>{escape(v.description)}</description>")
            out.append(f"<plugin_name>{escape(v.title)}</plugin_name>")
            risk = ["None", "Low", "Medium", "High", "Critical"][v.severity]
            out.append(f"<risk_factor>{risk}</risk_factor>")
            out.append(f"<solution>{escape(v.solution)}</solution>")
            out.append(f"<synopsis>{escape(v.synopsis)}</synopsis>")
            if v.output:
                out.append(f"<plugin_output>{escape(v.output)}</plugin_output>")
            if v.cvss is not None:
                out.append(f"<cvss_base_score>{v.cvss}</cvss_base_score>")
            if v.cvss3 is not None:
                out.append(f"<cvss3_base_score>{v.cvss3}</cvss3_base_score>")
            out.extend(f"<cve>{c}</cve>" for c in v.cves)
            out.append("</ReportItem>")
        out.append("</ReportHost>")
    out.append("</Report></NessusClientData_v2>")
    return "\n".join(out).encode()


def openvas(hosts: list[Box]) -> bytes:
    out = [
        '<get_reports_response status="200" status_text="OK">',
        '<report id="r1" format_id="a994b278-1f62-11e1-96ac-406186ea4fc5" extension="xml">',
        "<owner><name>admin</name></owner><name>2024-03-12T10:00:00Z</name>",
        '<report id="r1"><gmp><version>22.4</version></gmp><scan_run_status>Done</scan_run_status>',
        f"<hosts><count>{len(hosts)}</count></hosts>",
        '<results start="1" max="1000">',
    ]
    n = 0
    for h in hosts:
        for v in h.vulns:
            n += 1
            refs = "".join(f'<ref type="cve" id="{c}"/>' for c in v.cves)
            refs += '<ref type="url" id="https://example.invalid/advisory"/>'
            port = f"{v.port}/{v.protocol}" if v.port else "general/tcp"
            cvss = v.cvss if v.cvss is not None else 5.0
            out.append(
                f'<result id="res-{n}"><name>{escape(v.title)}</name>'
                f"<owner><name>admin</name></owner>"
                f'<host>{escape(h.ip)}<asset asset_id="a"/>'
                f"<hostname>{escape(h.name)}</hostname></host>"
                f"<port>{port}</port>"
                f'<nvt oid="{v.id}"><type>nvt</type><name>{escape(v.title)}</name>'
                f"<family>{escape(v.family)}</family><cvss_base>{cvss}</cvss_base>"
                f'<severities score="{cvss}"><severity type="cvss_base_v3"><score>{cvss}</score>'
                f"</severity></severities>"
                f"<tags>cvss_base_vector=AV:N/AC:L/Au:N/C:P/I:P/A:P|summary={escape(v.synopsis)}"
                f"|insight={escape(v.description)}|impact=Attackers win."
                f"|solution={escape(v.solution)}"
                f"|solution_type=VendorFix</tags>"
                f'<solution type="VendorFix">{escape(v.solution)}</solution>'
                f"<refs>{refs}</refs></nvt>"
                f"<threat>Medium</threat><severity>{cvss}</severity>"
                f"<qod><value>{v.qod}</value><type>remote_banner</type></qod>"
                f"<description>{escape(v.output)}</description></result>"
            )
    out.append("</results>")
    for h in hosts:
        out.append(
            f'<host><ip>{escape(h.ip)}</ip><asset asset_id="a"/><start>2024-03-12T10:00:00Z</start>'
            f"<detail><name>hostname</name><value>{escape(h.name)}</value></detail>"
            f"<detail><name>best_os_txt</name><value>{escape(h.os)}</value></detail></host>"
        )
    out.append("</report></report></get_reports_response>")
    return "\n".join(out).encode()


QUALYS_DOCTYPE = '<!DOCTYPE ASSET_DATA_REPORT SYSTEM "{url}">'


def qualys_report(
    hosts: list[Box], *, dtd_url: str = "https://qualysguard.qualys.com/asset_data_report.dtd"
) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        QUALYS_DOCTYPE.format(url=dtd_url),
        "<ASSET_DATA_REPORT><HEADER><COMPANY><![CDATA[Acme]]></COMPANY>"
        "<GENERATION_DATETIME>2024-06-08T00:00:00Z</GENERATION_DATETIME></HEADER>",
        "<HOST_LIST>",
    ]
    described: dict[str, Vuln] = {}
    for h in hosts:
        out.append("<HOST>")
        if h.ip:
            out.append(f'<IP network_id="0">{escape(h.ip)}</IP>')
        out.append("<TRACKING_METHOD>IP</TRACKING_METHOD>")
        out.append(f"<DNS><![CDATA[{h.name}]]></DNS><NETBIOS><![CDATA[{h.netbios}]]></NETBIOS>")
        out.append(f"<OPERATING_SYSTEM><![CDATA[{h.os}]]></OPERATING_SYSTEM><VULN_INFO_LIST>")
        for v in h.vulns:
            described.setdefault(v.id, v)
            out.append(
                f'<VULN_INFO><QID id="qid_{v.id}">{v.id}</QID><TYPE>{v.type}</TYPE>'
                f"<PORT>{v.port or ''}</PORT><SERVICE>http</SERVICE>"
                f"<PROTOCOL>{v.protocol}</PROTOCOL>"
                f'<SSL>false</SSL><RESULT format="table"><![CDATA[{v.output}]]></RESULT>'
                f"<FIRST_FOUND>{v.first_found}</FIRST_FOUND><LAST_FOUND>{v.last_found}</LAST_FOUND>"
                f"<TIMES_FOUND>3</TIMES_FOUND><VULN_STATUS>{v.status}</VULN_STATUS></VULN_INFO>"
            )
        out.append("</VULN_INFO_LIST></HOST>")
    out.append("</HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>")
    for v in described.values():
        cves = "".join(
            f"<CVE_ID><ID><![CDATA[{c}]]></ID><URL>https://example.invalid/{c}</URL></CVE_ID>"
            for c in v.cves
        )
        cvss = f"<CVSS_SCORE><CVSS_BASE>{v.cvss}</CVSS_BASE></CVSS_SCORE>" if v.cvss else ""
        cvss3 = f"<CVSS3_SCORE><CVSS3_BASE>{v.cvss3}</CVSS3_BASE></CVSS3_SCORE>" if v.cvss3 else ""
        out.append(
            f'<VULN_DETAILS id="qid_{v.id}"><QID id="qid_{v.id}">{v.id}</QID>'
            f"<TITLE><![CDATA[{v.title}]]></TITLE><SEVERITY>{v.severity}</SEVERITY>"
            f"<CATEGORY>{escape(v.family)}</CATEGORY><THREAT><![CDATA[{v.description}]]></THREAT>"
            f"<IMPACT><![CDATA[Attackers win.]]></IMPACT>"
            f"<SOLUTION><![CDATA[{v.solution}]]></SOLUTION>"
            f"{cvss}{cvss3}<CVE_ID_LIST>{cves}</CVE_ID_LIST></VULN_DETAILS>"
        )
    out.append("</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>")
    return "\n".join(out).encode()


def qualys_detections(hosts: list[Box]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        "<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT SYSTEM "
        '"https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/host_list_vm_detection_output.dtd">',
        "<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2024-06-08T00:00:00Z</DATETIME><HOST_LIST>",
    ]
    for n, h in enumerate(hosts, start=1):
        out.append(
            f"<HOST><ID>{n}</ID><IP>{escape(h.ip)}</IP><TRACKING_METHOD>IP</TRACKING_METHOD>"
        )
        out.append(f"<OS><![CDATA[{h.os}]]></OS><DNS><![CDATA[{h.name}]]></DNS>")
        out.append(f"<NETBIOS><![CDATA[{h.netbios}]]></NETBIOS><DETECTION_LIST>")
        for v in h.vulns:
            out.append(
                f"<DETECTION><UNIQUE_VULN_ID>{n}{v.id}</UNIQUE_VULN_ID><QID>{v.id}</QID>"
                f"<TYPE>{v.type}</TYPE><SEVERITY>{v.severity}</SEVERITY><PORT>{v.port or ''}</PORT>"
                f"<PROTOCOL>{v.protocol}</PROTOCOL><SSL>0</SSL><RESULTS><![CDATA[{v.output}]]></RESULTS>"
                f"<STATUS>{v.status}</STATUS><FIRST_FOUND_DATETIME>{v.first_found}</FIRST_FOUND_DATETIME>"
                f"<LAST_FOUND_DATETIME>{v.last_found}</LAST_FOUND_DATETIME><TIMES_FOUND>3</TIMES_FOUND>"
                f"<IS_IGNORED>0</IS_IGNORED><IS_DISABLED>0</IS_DISABLED></DETECTION>"
            )
        out.append("</DETECTION_LIST></HOST>")
    out.append("</HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>")
    return "\n".join(out).encode()


def nmap_xml(hosts: list[dict], *, args: str = "nmap -sV -oX - 10.0.0.0/24") -> bytes:
    """hosts: {"ip", "name", "os", "state", "hostscripts": [(id, output)],
    "ports": [(port, proto, service, product, version, [(script, output)])]}."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!DOCTYPE nmaprun>",
        f'<nmaprun scanner="nmap" args={quoteattr(args)} start="1710237600" version="7.93">',
        '<scaninfo type="connect" protocol="tcp" numservices="1000" services="1-1000"/>',
    ]
    for h in hosts:
        out.append('<host starttime="1710237600" endtime="1710237660">')
        out.append(f'<status state="{h.get("state", "up")}" reason="syn-ack"/>')
        out.append(f'<address addr="{h["ip"]}" addrtype="ipv4"/>')
        if h.get("name"):
            out.append(f'<hostnames><hostname name="{h["name"]}" type="PTR"/></hostnames>')
        out.append('<ports><extraports state="closed" count="997"/>')
        for port, proto, service, product, version, scripts in h.get("ports", []):
            out.append(
                f'<port protocol="{proto}" portid="{port}"><state state="open" reason="syn-ack"/>'
            )
            out.append(
                f'<service name="{service}" product={quoteattr(product)} '
                f"version={quoteattr(version)} "
                f'method="{"probed" if product else "table"}" conf="10"/>'
            )
            out.extend(f"<script id={quoteattr(s)} output={quoteattr(o)}/>" for s, o in scripts)
            out.append("</port>")
        out.append("</ports>")
        if h.get("os"):
            out.append(f'<os><osmatch name={quoteattr(h["os"])} accuracy="96" line="1"/></os>')
        if h.get("hostscripts"):
            out.append("<hostscript>")
            out.extend(
                f"<script id={quoteattr(s)} output={quoteattr(o)}/>" for s, o in h["hostscripts"]
            )
            out.append("</hostscript>")
        out.append("</host>")
    out.append('<runstats><finished time="1710237700" exit="success"/></runstats></nmaprun>')
    return "\n".join(out).encode()
