"""HTTP: what a web server reveals and which protections it leaves out (check "http")."""

from .entry import entry

_HTTP = {"category": "Web server", "check": "http"}
_HEADERS = {"category": "Web server security headers", "check": "http"}

ENTRIES = [
    entry(
        86008,
        "Web server information",
        severity=1,
        kind="info",
        diagnosis="Status line, Server header and page title returned for GET /.",
        consequence="None by itself.",
        solution="No action is required.",
        **_HTTP,
    ),
    entry(
        86000,
        "Web server version disclosed in the Server header",
        severity=1,
        kind="confirmed",
        diagnosis="""The Server response header names the product with its version number
        (for example "Apache/2.4.57" or "nginx/1.22.1").""",
        consequence="""The exact version lets attackers pick exploits for known
        vulnerabilities of that release without probing.""",
        solution="""Hide the version: Apache "ServerTokens Prod" and "ServerSignature Off",
        nginx "server_tokens off", IIS removeServerHeader.""",
        **_HTTP,
    ),
    entry(
        86005,
        "Technology disclosed in the X-Powered-By header",
        severity=1,
        kind="confirmed",
        diagnosis="The response carries X-Powered-By, naming the framework or language.",
        consequence="Helps attackers target known flaws of that framework version.",
        solution="""Remove the header (PHP "expose_php = Off", Express
        app.disable("x-powered-by"), ASP.NET in web.config).""",
        **_HTTP,
    ),
    entry(
        86006,
        "HTTP TRACE method enabled",
        severity=2,
        kind="confirmed",
        diagnosis="""The server answered TRACE / with 200 and echoed the request back,
        headers included.""",
        consequence="""Cross-site tracing: combined with another flaw, a script can read
        headers it should not see, such as HttpOnly cookies or credentials added by a
        proxy.""",
        solution='Disable TRACE (Apache "TraceEnable off"; nginx does not implement it).',
        **_HTTP,
    ),
    entry(
        86007,
        "Directory listing enabled",
        severity=2,
        kind="confirmed",
        diagnosis="GET / returned an automatically generated directory index.",
        consequence="""Visitors can browse every file in the directory, including backups,
        configuration files and data never meant to be linked.""",
        solution='Disable automatic indexes (Apache "Options -Indexes", nginx "autoindex off").',
        **_HTTP,
    ),
    entry(
        86009,
        "Cookie set without the HttpOnly flag",
        severity=2,
        kind="potential",
        diagnosis="A Set-Cookie header in the response to GET / lacks the HttpOnly attribute.",
        consequence="""Scripts in the page can read the cookie, so a cross-site scripting
        flaw can steal session cookies.""",
        solution="Set HttpOnly on every cookie that scripts do not need to read.",
        **_HTTP,
    ),
    entry(
        86010,
        "Cookie over HTTPS set without the Secure flag",
        severity=2,
        kind="potential",
        diagnosis="""A Set-Cookie header on an HTTPS service lacks the Secure attribute, so
        the browser will also send the cookie over plain HTTP.""",
        consequence="""A network attacker who lures the browser to any http:// URL of the
        site captures the cookie.""",
        solution="Set Secure on every cookie of an HTTPS site (and enable HSTS).",
        **_HTTP,
    ),
    entry(
        86001,
        "Missing X-Frame-Options header (clickjacking)",
        severity=2,
        kind="potential",
        diagnosis="""The response to GET / has neither X-Frame-Options nor a
        Content-Security-Policy frame-ancestors directive.""",
        consequence="""Another site can load these pages in an invisible frame and trick
        users into clicking buttons they do not see (clickjacking).""",
        solution="""Send "X-Frame-Options: DENY" (or SAMEORIGIN), or
        "Content-Security-Policy: frame-ancestors 'none'".""",
        **_HEADERS,
    ),
    entry(
        86002,
        "Missing Content-Security-Policy header",
        severity=1,
        kind="potential",
        diagnosis="The response to GET / carries no Content-Security-Policy header.",
        consequence="""Without a policy, an injected script runs with the page's full
        privileges; CSP is the main second line of defence against cross-site
        scripting.""",
        solution="""Define a Content-Security-Policy that allows scripts only from your own
        origins, e.g. "default-src 'self'", and tighten it from there.""",
        **_HEADERS,
    ),
    entry(
        86003,
        "Missing X-Content-Type-Options header",
        severity=1,
        kind="potential",
        diagnosis="The response to GET / does not send X-Content-Type-Options: nosniff.",
        consequence="""Browsers may guess ("sniff") a response's type and run uploaded or
        user-supplied content as script or style.""",
        solution='Send "X-Content-Type-Options: nosniff" on every response.',
        **_HEADERS,
    ),
    entry(
        86004,
        "Missing Strict-Transport-Security header on HTTPS",
        severity=2,
        kind="potential",
        diagnosis="The HTTPS response to GET / carries no Strict-Transport-Security header.",
        consequence="""Browsers keep trying plain HTTP first, so a network attacker can strip
        TLS (sslstrip) and capture logins and cookies.""",
        solution="""Send "Strict-Transport-Security: max-age=31536000; includeSubDomains"
        once every part of the site works over HTTPS.""",
        **_HEADERS,
    ),
]
