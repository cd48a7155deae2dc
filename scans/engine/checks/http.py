"""HTTP: what ``GET /`` reveals (server version, missing security headers, directory
listing, cookie flags) and whether the TRACE method is answered."""

from __future__ import annotations

import http.client
import re
import ssl
from dataclasses import dataclass

from core.results import Finding, Service

from .base import BANNER_LIMIT, Check, CheckError, is_tls

QID_SERVER_VERSION = 86000
QID_NO_FRAME_OPTIONS = 86001
QID_NO_CSP = 86002
QID_NO_CONTENT_TYPE_OPTIONS = 86003
QID_NO_HSTS = 86004
QID_POWERED_BY = 86005
QID_TRACE = 86006
QID_DIRECTORY_LISTING = 86007
QID_SERVER_INFO = 86008
QID_COOKIE_NO_HTTPONLY = 86009
QID_COOKIE_NO_SECURE = 86010

# A product name followed by "/<digit>": "Apache/2.4.57", "nginx/1.22.1", "SimpleHTTP/0.6".
_VERSIONED = re.compile(r"[A-Za-z][\w.-]*/\d[\w.-]*")
_LISTING = re.compile(rb"<title>\s*(Index of /|Directory listing for /)", re.IGNORECASE)
_TITLE = re.compile(rb"<title>\s*([^<]{0,200})", re.IGNORECASE)
_BODY_LIMIT = 65536


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def request(ip: str, port: int, method: str, *, tls: bool, timeout: float) -> Response:
    """One request to ``/`` of exactly ``ip``:``port``; CheckError if there is no HTTP answer."""
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the tls check judges the certificate
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            ip, port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request(method, "/", headers={"User-Agent": "Enclave-Scanner/1.0", "Accept": "*/*"})
        reply = conn.getresponse()
        body = reply.read(_BODY_LIMIT)
        return Response(reply.status, reply.reason, list(reply.getheaders()), body)
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        raise CheckError(f"HTTP {method} to {ip}:{port} failed: {error}") from error
    finally:
        conn.close()


def response_findings(response: Response, port: int, *, tls: bool) -> list[Finding]:
    """Findings from one ``GET /`` response (no network I/O)."""
    out: list[Finding] = []
    server = response.header("Server")
    title = _TITLE.search(response.body)
    summary = [f"Status: {response.status} {response.reason}", f"Server: {server or '(none)'}"]
    if title:
        summary.append(f"Title: {title.group(1).decode('utf-8', 'replace').strip()}")
    out.append(Finding(QID_SERVER_INFO, port, "tcp", "\n".join(summary)))
    if server and _VERSIONED.search(server):
        out.append(Finding(QID_SERVER_VERSION, port, "tcp", f"Server: {server}"))
    powered = response.all("X-Powered-By")
    if powered:
        out.append(Finding(QID_POWERED_BY, port, "tcp", f"X-Powered-By: {', '.join(powered)}"))
    csp = response.header("Content-Security-Policy") or ""
    missing = {
        QID_NO_FRAME_OPTIONS: "X-Frame-Options",
        QID_NO_CSP: "Content-Security-Policy",
        QID_NO_CONTENT_TYPE_OPTIONS: "X-Content-Type-Options",
    }
    if tls:
        missing[QID_NO_HSTS] = "Strict-Transport-Security"
    for qid, name in missing.items():
        # CSP frame-ancestors does the job of X-Frame-Options in current browsers.
        if qid == QID_NO_FRAME_OPTIONS and "frame-ancestors" in csp:
            continue
        if response.header(name) is None:
            evidence = f"GET / answered {response.status} without a {name} header"
            out.append(Finding(qid, port, "tcp", evidence))
    if response.status == 200 and _LISTING.search(response.body):
        out.append(Finding(QID_DIRECTORY_LISTING, port, "tcp", "GET / returned a directory index"))
    for cookie in response.all("Set-Cookie"):
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        name = cookie.split("=", 1)[0].strip()
        if "httponly" not in flags:
            out.append(
                Finding(QID_COOKIE_NO_HTTPONLY, port, "tcp", f"Cookie {name} set without HttpOnly")
            )
        if tls and "secure" not in flags:
            out.append(
                Finding(QID_COOKIE_NO_SECURE, port, "tcp", f"Cookie {name} set without Secure")
            )
    return _one_per_qid(out)


def _one_per_qid(findings: list[Finding]) -> list[Finding]:
    """Several cookies may trip the same QID on one port: one finding, all evidence."""
    merged: dict[int, Finding] = {}
    for finding in findings:
        if finding.qid in merged:
            merged[finding.qid].results += "\n" + finding.results
        else:
            merged[finding.qid] = finding
    return list(merged.values())


class HTTPCheck(Check):
    name = "http"

    def applies(self, service: Service) -> bool:
        return (
            service.protocol == "tcp"
            and service.name.startswith("http")
            and service.name != "http-rpc-epmap"  # Windows RPC over HTTP, not a web server
        )

    def check_service(self, ip: str, service: Service, *, timeout: float) -> list[Finding]:
        tls = is_tls(service)
        response = request(ip, service.port, "GET", tls=tls, timeout=timeout)
        server = response.header("Server")
        if server:
            # The service inventory keeps it: feeds match a product named only here.
            service.banner = f"Server: {server}"[:BANNER_LIMIT]
        findings = response_findings(response, service.port, tls=tls)
        trace = request(ip, service.port, "TRACE", tls=tls, timeout=timeout)
        # A server that really executes TRACE echoes our request line back.
        if trace.status == 200 and b"TRACE / HTTP" in trace.body:
            findings.append(Finding(QID_TRACE, service.port, "tcp", "TRACE / echoed the request"))
        return findings
