"""Known vulnerabilities of web and FTP server versions (check "versions", rules in
scans.engine.checks.versions). All are "potential": the version comes from a
banner, and distributions backport fixes without changing it."""

from .entry import entry

_BACKPORT = """The version was read from the service banner. Linux distributions often
fix such issues in their packages without changing the upstream version, so confirm
with the package's changelog or security tracker before acting."""


def rule_entry(
    qid: int,
    title: str,
    *,
    category: str,
    severity: int,
    cves: tuple[str, ...],
    cvss: float | None,
    what: str,
    consequence: str,
    upgrade: str,
) -> dict:
    return entry(
        qid,
        title,
        severity=severity,
        kind="potential",
        category=category,
        check="versions",
        cves=cves,
        cvss=cvss,
        diagnosis=f"{what} {_BACKPORT}",
        consequence=consequence,
        solution=f"{upgrade} or install your distribution's security update.",
    )


_WEB = "Web server"
_FTP = "FTP"

APACHE = [
    rule_entry(
        86100,
        "Apache HTTP Server 2.4.49 path traversal",
        category=_WEB,
        severity=5,
        cves=("CVE-2021-41773",),
        cvss=7.5,
        what="""A change to path normalisation in Apache httpd 2.4.49 lets encoded
          "../" sequences reach files outside the document root.""",
        consequence="""Remote attackers read files outside the document root where
          "Require all denied" is not set, and run code if mod_cgi is enabled; exploited
          in the wild.""",
        upgrade="Upgrade Apache httpd to 2.4.51 or later",
    ),
    rule_entry(
        86101,
        "Apache HTTP Server 2.4.49/2.4.50 path traversal and RCE",
        category=_WEB,
        severity=5,
        cves=("CVE-2021-42013",),
        cvss=9.8,
        what="""The fix for CVE-2021-41773 in 2.4.50 was incomplete: double-encoded
          path traversal still works in 2.4.49 and 2.4.50.""",
        consequence="""Remote file disclosure and, with CGI enabled, remote code
          execution; exploited in the wild.""",
        upgrade="Upgrade Apache httpd to 2.4.51 or later",
    ),
    rule_entry(
        86102,
        "Apache HTTP Server mod_proxy server-side request forgery",
        category=_WEB,
        severity=4,
        cves=("CVE-2021-40438",),
        cvss=9.0,
        what="""A crafted request URI-path in Apache httpd 2.4.48 and earlier makes
          mod_proxy forward the request to an origin server chosen by the attacker.""",
        consequence="""Attackers reach internal services through the proxy (SSRF);
          exploited in the wild.""",
        upgrade="Upgrade Apache httpd to 2.4.49 or later",
    ),
    rule_entry(
        86103,
        "Apache HTTP Server mod_lua multipart buffer overflow",
        category=_WEB,
        severity=4,
        cves=("CVE-2021-44790",),
        cvss=9.8,
        what="""r:parsebody() in mod_lua of Apache httpd 2.4.51 and earlier overflows a
          buffer on a crafted multipart request body.""",
        consequence="Remote code execution where Lua scripts parse request bodies.",
        upgrade="Upgrade Apache httpd to 2.4.52 or later",
    ),
    rule_entry(
        86104,
        "Apache HTTP Server request smuggling on discarded bodies",
        category=_WEB,
        severity=4,
        cves=("CVE-2022-22720",),
        cvss=9.8,
        what="""Apache httpd 2.4.52 and earlier fail to close the inbound connection when
          errors occur while discarding a request body.""",
        consequence="""HTTP request smuggling: attackers slip requests past front-end
          controls or poison caches.""",
        upgrade="Upgrade Apache httpd to 2.4.53 or later",
    ),
    rule_entry(
        86105,
        "Apache HTTP Server mod_proxy X-Forwarded-For bypass",
        category=_WEB,
        severity=4,
        cves=("CVE-2022-31813",),
        cvss=9.8,
        what="""mod_proxy in Apache httpd 2.4.53 and earlier may drop X-Forwarded-*
          headers based on the client's Connection header hop-by-hop list.""",
        consequence="""IP-based authentication on the origin server can be bypassed.""",
        upgrade="Upgrade Apache httpd to 2.4.54 or later",
    ),
    rule_entry(
        86106,
        "Apache HTTP Server mod_proxy request smuggling",
        category=_WEB,
        severity=4,
        cves=("CVE-2023-25690",),
        cvss=9.8,
        what="""With mod_proxy and a RewriteRule or ProxyPassMatch that re-inserts
          user-supplied URL data, Apache httpd 2.4.0 through 2.4.55 can be made to split
          one request into two.""",
        consequence="""Request smuggling: bypass of access controls in the proxy, proxying
          to unintended URLs, cache poisoning.""",
        upgrade="Upgrade Apache httpd to 2.4.56 or later",
    ),
    rule_entry(
        86107,
        "Apache HTTP Server 2.4.59 and earlier mod_rewrite and handler flaws",
        category=_WEB,
        severity=4,
        cves=("CVE-2024-38474", "CVE-2024-38475", "CVE-2024-38476"),
        cvss=9.8,
        what="""In Apache httpd 2.4.59 and earlier, mod_rewrite substitutions can map
          URLs to unintended filesystem paths, and malicious backend response headers can
          trigger internal redirects or information disclosure.""",
        consequence="""Source code disclosure, execution of scripts in unintended
          directories, and SSRF.""",
        upgrade="Upgrade Apache httpd to 2.4.60 or later",
    ),
    rule_entry(
        86108,
        "Apache HTTP Server scoreboard privilege escalation",
        category=_WEB,
        severity=4,
        cves=("CVE-2019-0211",),
        cvss=7.8,
        what="""In Apache httpd 2.4.17 to 2.4.38 with the MPM event, worker or prefork,
          code in child processes can manipulate the scoreboard and run code as the
          parent (root) at graceful restart.""",
        consequence="""A less-privileged script or module (PHP, CGI) gains root on the
          server.""",
        upgrade="Upgrade Apache httpd to 2.4.39 or later",
    ),
    rule_entry(
        86109,
        "Apache HTTP Server FilesMatch newline bypass",
        category=_WEB,
        severity=3,
        cves=("CVE-2017-15715",),
        cvss=8.1,
        what="""In Apache httpd 2.4.0 to 2.4.29, a <FilesMatch> "$" also matches a
          trailing newline in the file name.""",
        consequence="""Upload filters based on FilesMatch can be bypassed, for example to
          store and run a PHP file named "shell.php\\n".""",
        upgrade="Upgrade Apache httpd to 2.4.30 or later",
    ),
    rule_entry(
        86110,
        "Apache HTTP Server Optionsbleed",
        category=_WEB,
        severity=3,
        cves=("CVE-2017-9798",),
        cvss=7.5,
        what="""Apache httpd up to 2.2.34 and 2.4.0 to 2.4.27 can return freed memory in
          the Allow header of OPTIONS responses when a <Limit> names an unregistered
          method.""",
        consequence="Leaks of memory contents: other requests' data, secrets.",
        upgrade="Upgrade Apache httpd to 2.4.28 or later",
    ),
    rule_entry(
        86111,
        "Apache HTTP Server mod_macro out-of-bounds read",
        category=_WEB,
        severity=3,
        cves=("CVE-2023-31122",),
        cvss=7.5,
        what="mod_macro in Apache httpd 2.4.57 and earlier reads out of bounds.",
        consequence="Crashes of the server (denial of service).",
        upgrade="Upgrade Apache httpd to 2.4.58 or later",
    ),
    rule_entry(
        86112,
        "Apache HTTP Server HTTP/2 CONTINUATION flood",
        category=_WEB,
        severity=3,
        cves=("CVE-2024-27316",),
        cvss=7.5,
        what="""mod_http2 in Apache httpd 2.4.17 to 2.4.58 buffers HTTP/2 headers beyond
          the limit when a client keeps sending CONTINUATION frames.""",
        consequence="Unauthenticated attackers exhaust memory (denial of service).",
        upgrade="Upgrade Apache httpd to 2.4.59 or later",
    ),
    rule_entry(
        86113,
        "Apache HTTP Server 2.2 or older is end of life",
        category=_WEB,
        severity=4,
        cves=(),
        cvss=None,
        what="""Apache httpd 2.2 reached end of life in 2017 (2.0 in 2013, 1.3 in 2010)
          and receives no security fixes.""",
        consequence="""Every vulnerability found since then stays open; many are
          remotely exploitable.""",
        upgrade="Migrate to a supported Apache httpd 2.4 release",
    ),
    rule_entry(
        86114,
        "Apache HTTP Server forward proxy NULL dereference and SSRF",
        category=_WEB,
        severity=3,
        cves=("CVE-2021-44224",),
        cvss=8.2,
        what="""A crafted URI sent to Apache httpd 2.4.7 up to 2.4.51 configured as a
          forward proxy can crash it or, with ProxyRequests and Unix sockets, make it send
          requests to a socket of the attacker's choice.""",
        consequence="Denial of service or server-side request forgery.",
        upgrade="Upgrade Apache httpd to 2.4.52 or later",
    ),
]

NGINX = [
    rule_entry(
        86200,
        "nginx resolver off-by-one write",
        category=_WEB,
        severity=4,
        cves=("CVE-2021-23017",),
        cvss=7.7,
        what="""The DNS resolver of nginx 0.6.18 through 1.20.0 writes one byte past a
          buffer when processing a crafted DNS response.""",
        consequence="""An attacker able to forge DNS responses to the server (where the
          "resolver" directive is used) can crash workers and possibly run code.""",
        upgrade="Upgrade nginx to 1.20.1 (stable) or 1.21.0 (mainline)",
    ),
    rule_entry(
        86201,
        "nginx chunked transfer encoding stack overflow",
        category=_WEB,
        severity=4,
        cves=("CVE-2013-2028",),
        cvss=7.5,
        what="""ngx_http_parse_chunked in nginx 1.3.9 through 1.4.0 mishandles a large
          chunk size.""",
        consequence="Remote code execution or a worker crash by any client.",
        upgrade="Upgrade nginx to 1.4.1 or later",
    ),
    rule_entry(
        86202,
        "nginx range filter integer overflow",
        category=_WEB,
        severity=3,
        cves=("CVE-2017-7529",),
        cvss=7.5,
        what="""A crafted Range header makes nginx 0.5.6 through 1.13.2 return cached
          data it should not (integer overflow in the range filter).""",
        consequence="Leak of cache file headers, possibly including sensitive data.",
        upgrade="Upgrade nginx to 1.12.1 (stable) or 1.13.3 (mainline)",
    ),
    rule_entry(
        86203,
        "nginx HTTP/2 denial of service (2019)",
        category=_WEB,
        severity=3,
        cves=("CVE-2019-9511", "CVE-2019-9513", "CVE-2019-9516"),
        cvss=7.5,
        what="""The HTTP/2 implementation of nginx 1.9.5 through 1.17.2 is exposed to
          the data dribble, resource loop and zero-length header attacks.""",
        consequence="Excessive CPU and memory use by unauthenticated clients.",
        upgrade="Upgrade nginx to 1.16.1 (stable) or 1.17.3 (mainline)",
    ),
    rule_entry(
        86204,
        "nginx mp4 module memory corruption",
        category=_WEB,
        severity=3,
        cves=("CVE-2022-41741", "CVE-2022-41742"),
        cvss=7.8,
        what="""ngx_http_mp4_module in nginx 1.1.3 through 1.23.1 mishandles crafted
          MP4 files.""",
        consequence="""Where the mp4 directive serves attacker-supplied files: worker
          crashes, memory disclosure, possibly code execution.""",
        upgrade="Upgrade nginx to 1.22.1 (stable) or 1.23.2 (mainline)",
    ),
    rule_entry(
        86205,
        "nginx NULL pointer dereference writing a client body",
        category=_WEB,
        severity=3,
        cves=("CVE-2016-4450",),
        cvss=7.5,
        what="""nginx 1.3.9 through 1.11.0 dereferences a NULL pointer when writing a
          client request body to a temporary file.""",
        consequence="Worker crashes on crafted requests (denial of service).",
        upgrade="Upgrade nginx to 1.10.1 (stable) or 1.11.1 (mainline)",
    ),
    rule_entry(
        86206,
        "nginx HTTP/2 rapid reset",
        category=_WEB,
        severity=3,
        cves=("CVE-2023-44487",),
        cvss=7.5,
        what="""HTTP/2 servers, including nginx 1.9.5 through 1.25.2, let clients open
          and cancel streams quickly without limit.""",
        consequence="Denial of service by request floods that bypass concurrency limits.",
        upgrade="Upgrade nginx to 1.25.3 or later",
    ),
    rule_entry(
        86207,
        "nginx mp4 module buffer over-read",
        category=_WEB,
        severity=2,
        cves=("CVE-2024-7347",),
        cvss=4.7,
        what="""ngx_http_mp4_module in nginx 1.5.13 through 1.27.0 over-reads a buffer
          on crafted MP4 files.""",
        consequence="Worker crashes where the mp4 directive is used.",
        upgrade="Upgrade nginx to 1.26.2 (stable) or 1.27.1 (mainline)",
    ),
    rule_entry(
        86208,
        "nginx SPDY heap buffer overflow",
        category=_WEB,
        severity=3,
        cves=("CVE-2014-0133",),
        cvss=5.1,
        what="""The SPDY implementation of nginx 1.3.15 through 1.5.11 overflows a heap
          buffer on crafted requests.""",
        consequence="Remote code execution where SPDY is enabled.",
        upgrade="Upgrade nginx to 1.4.7 (stable) or 1.5.12 (mainline)",
    ),
]

VSFTPD = [
    rule_entry(
        27100,
        "vsftpd 2.3.4 backdoor",
        category=_FTP,
        severity=5,
        cves=("CVE-2011-2523",),
        cvss=9.8,
        what="""The vsftpd 2.3.4 source archive was replaced for a few days in 2011 with
          a version that opens a root shell on port 6200 when a user name ends in ":)".""",
        consequence="Any remote attacker gets a root shell.",
        upgrade="Reinstall vsftpd from a verified source, version 2.3.5 or later,",
    ),
    rule_entry(
        27101,
        "vsftpd glob expression denial of service",
        category=_FTP,
        severity=2,
        cves=("CVE-2011-0762",),
        cvss=4.0,
        what="""vsf_filename_passes_filter in vsftpd before 2.3.3 evaluates crafted glob
          expressions in STAT commands with excessive CPU use.""",
        consequence="Authenticated users, anonymous included, can exhaust the CPU.",
        upgrade="Upgrade vsftpd to 2.3.3 or later",
    ),
    rule_entry(
        27102,
        "vsftpd deny_file bypass",
        category=_FTP,
        severity=2,
        cves=("CVE-2015-1419",),
        cvss=5.0,
        what="""vsftpd 3.0.2 and earlier do not fully enforce the deny_file option.""",
        consequence="Users can reach files the configuration meant to hide.",
        upgrade="Upgrade vsftpd to 3.0.3 or later",
    ),
    rule_entry(
        27103,
        "vsftpd ALPACA cross-protocol attack",
        category=_FTP,
        severity=2,
        cves=("CVE-2021-3618",),
        cvss=7.4,
        what="""vsftpd before 3.0.4 does not check the ALPN or SNI of TLS connections,
          so it accepts TLS sessions meant for a web server that shares its certificate
          (ALPACA).""",
        consequence="""A man in the middle can redirect HTTPS traffic to the FTPS server
          to steal cookies or run cross-site scripting.""",
        upgrade="Upgrade vsftpd to 3.0.4 or later",
    ),
]

ENTRIES = [*APACHE, *NGINX, *VSFTPD]
