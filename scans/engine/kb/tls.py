"""TLS: certificates, protocol versions and cipher suites (check "tls")."""

from .entry import entry

_CERT = {"category": "TLS certificate", "check": "tls"}
_PROTO = {"category": "TLS configuration", "check": "tls"}
_CONF = "confirmed"

ENTRIES = [
    entry(
        38100,
        "TLS certificate has expired",
        severity=2,
        kind=_CONF,
        diagnosis="""The certificate the server presents is past its notAfter date.
        The results show the certificate's validity period.""",
        consequence="""Clients warn or refuse to connect. Users who learn to click through
        certificate warnings will also accept an attacker's certificate, which makes
        man-in-the-middle attacks easy.""",
        solution="""Issue a new certificate from a trusted CA, install it with its chain,
        and automate renewal (for example with ACME).""",
        **_CERT,
    ),
    entry(
        38101,
        "TLS certificate is self-signed",
        severity=2,
        kind=_CONF,
        diagnosis="""The certificate's issuer is its own subject and it is signed with its
        own key, so no certificate authority vouches for it.""",
        consequence="""Clients cannot tell this certificate from one an attacker made up,
        unless it is pinned or distributed beforehand: the connection can be
        intercepted.""",
        solution="""Use a certificate issued by a public CA or by your organisation's
        internal CA whose root your clients trust.""",
        **_CERT,
    ),
    entry(
        38110,
        "TLS certificate is not yet valid",
        severity=2,
        kind=_CONF,
        diagnosis="The certificate's notBefore date is in the future.",
        consequence="""Clients reject the certificate; users learn to ignore warnings. A
        wrong clock on the server or the CA is often the cause.""",
        solution="Check the server's clock (NTP) and reissue the certificate if needed.",
        **_CERT,
    ),
    entry(
        38111,
        "TLS certificate signed with a weak hash algorithm",
        severity=2,
        kind=_CONF,
        cves=("CVE-2004-2761", "CVE-2005-4900"),
        cvss=5.9,
        diagnosis="""The certificate is signed with MD5 or SHA-1. Collisions have been
        demonstrated for both (the rogue MD5 CA of 2008, SHAttered for SHA-1 in 2017).""",
        consequence="""An attacker able to produce a colliding certificate can impersonate
        the server. Current browsers reject such certificates.""",
        solution="Reissue the certificate with a SHA-256 (or stronger) signature.",
        **_CERT,
    ),
    entry(
        38112,
        "TLS certificate RSA key shorter than 2048 bits",
        severity=3,
        kind=_CONF,
        diagnosis="""The certificate's RSA public key is shorter than 2048 bits, the minimum
        accepted by CAs and NIST since 2013.""",
        consequence="""Keys of 1024 bits and less are within reach of well-funded attackers;
        a factored key lets them decrypt (without forward secrecy) and impersonate.""",
        solution="Generate a new key of at least 2048 bits (or ECDSA P-256) and reissue.",
        **_CERT,
    ),
    entry(
        38113,
        "TLS certificate expires within 30 days",
        severity=1,
        kind="potential",
        diagnosis="The certificate's notAfter date is less than 30 days away.",
        consequence="When it expires, clients will refuse or warn about the service.",
        solution="Renew the certificate now; automate renewal.",
        **_CERT,
    ),
    entry(
        38120,
        "TLS certificate information",
        severity=1,
        kind="info",
        diagnosis="""Subject, issuer, serial number, validity dates, signature hash and key
        of the certificate the server presents.""",
        consequence="None by itself; used to track certificates across the estate.",
        solution="No action is required.",
        **_CERT,
    ),
    entry(
        38121,
        "TLS protocol versions and cipher suites accepted",
        severity=1,
        kind="info",
        diagnosis="""The SSL/TLS versions from SSLv3 to TLS 1.2 that the server accepted,
        and the weak cipher suite families it agreed to, as seen by hand-built
        ClientHello probes.""",
        consequence="None by itself; the weak items are reported as separate QIDs.",
        solution="No action is required.",
        **_PROTO,
    ),
    entry(
        38104,
        "SSLv3 protocol accepted (POODLE)",
        severity=3,
        kind=_CONF,
        cves=("CVE-2014-3566",),
        cvss=3.4,
        diagnosis="""The server completed a ServerHello for SSL 3.0. SSLv3's CBC padding
        is not covered by the MAC, which the POODLE attack exploits.""",
        consequence="""A network attacker who can make the client retry over SSLv3 can
        decrypt secrets such as session cookies one byte at a time.""",
        solution="Disable SSLv3 (and SSLv2) on the server. RFC 7568 deprecates SSLv3.",
        **_PROTO,
    ),
    entry(
        38102,
        "TLS 1.0 protocol accepted",
        severity=3,
        kind=_CONF,
        cves=("CVE-2011-3389",),
        cvss=4.3,
        diagnosis="""The server accepted a TLS 1.0 handshake. RFC 8996 deprecated TLS 1.0
        in 2021; it depends on SHA-1/MD5 in its handshake and its CBC mode is open to
        BEAST.""",
        consequence="""Clients that can still fall back to TLS 1.0 get weaker protection;
        PCI DSS has not allowed TLS 1.0 since 2018.""",
        solution="Accept TLS 1.2 and TLS 1.3 only.",
        **_PROTO,
    ),
    entry(
        38103,
        "TLS 1.1 protocol accepted",
        severity=2,
        kind=_CONF,
        diagnosis="""The server accepted a TLS 1.1 handshake. RFC 8996 deprecated TLS 1.1;
        it lacks modern AEAD cipher suites and relies on SHA-1 in the handshake.""",
        consequence="Weaker protection for clients that negotiate it; fails compliance.",
        solution="Accept TLS 1.2 and TLS 1.3 only.",
        **_PROTO,
    ),
    entry(
        38105,
        "RC4 cipher suites accepted",
        severity=3,
        kind=_CONF,
        cves=("CVE-2013-2566", "CVE-2015-2808"),
        cvss=5.9,
        diagnosis="""The server negotiated an RC4 cipher suite. RC4's keystream biases
        allow plaintext recovery; RFC 7465 prohibits RC4 in TLS.""",
        consequence="""An attacker who observes many connections carrying the same secret
        (a cookie, a password) can recover it.""",
        solution="Remove all RC4 suites from the server's cipher configuration.",
        **_PROTO,
    ),
    entry(
        38106,
        "3DES cipher suites accepted (SWEET32)",
        severity=3,
        kind=_CONF,
        cves=("CVE-2016-2183",),
        cvss=7.5,
        diagnosis="""The server negotiated a Triple-DES suite. 3DES has a 64-bit block, so
        birthday collisions appear after about 32 GB on one connection (SWEET32).""",
        consequence="""An attacker who can make a client send much traffic over one
        long-lived connection can recover secrets such as cookies.""",
        solution="Remove 3DES (and other 64-bit block) suites from the configuration.",
        **_PROTO,
    ),
    entry(
        38107,
        "NULL cipher suites accepted (no encryption)",
        severity=4,
        kind=_CONF,
        diagnosis="""The server negotiated a NULL cipher suite: records are authenticated
        but not encrypted.""",
        consequence="""Everything sent over such a connection can be read by anyone on the
        network path, while users believe it is protected by TLS.""",
        solution="Remove all NULL suites (eNULL) from the cipher configuration.",
        **_PROTO,
    ),
    entry(
        38108,
        "EXPORT cipher suites accepted (FREAK / Logjam)",
        severity=4,
        kind=_CONF,
        cves=("CVE-2015-0204", "CVE-2015-4000"),
        cvss=7.4,
        diagnosis="""The server negotiated an export-grade suite with 40- or 56-bit
        encryption or 512-bit key exchange, kept from 1990s US export rules.""",
        consequence="""With FREAK and Logjam, a man in the middle downgrades connections to
        export keys and breaks them in minutes, then reads and alters the traffic.""",
        solution="Remove all EXPORT suites; use 2048-bit or larger DH groups, or ECDHE.",
        **_PROTO,
    ),
    entry(
        38109,
        "Anonymous cipher suites accepted (no server authentication)",
        severity=4,
        kind=_CONF,
        diagnosis="""The server negotiated an anonymous Diffie-Hellman suite (ADH/AECDH):
        the key exchange is not authenticated by any certificate.""",
        consequence="""A man in the middle can run a separate key exchange with each side
        and read and change all traffic without any certificate warning.""",
        solution="Remove aNULL suites from the cipher configuration.",
        **_PROTO,
    ),
]
