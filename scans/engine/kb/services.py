"""Cleartext and unauthenticated services: FTP, Telnet, Redis."""

from .entry import entry

ENTRIES = [
    entry(
        27000,
        "FTP server banner",
        severity=1,
        kind="info",
        category="FTP",
        check="ftp",
        diagnosis="The greeting (220 reply) the FTP server sent.",
        consequence="Banners often name the FTP product and version.",
        solution="No action is required.",
    ),
    entry(
        27001,
        "Anonymous FTP login allowed",
        severity=3,
        kind="confirmed",
        category="FTP",
        check="ftp",
        cves=("CVE-1999-0497",),
        diagnosis="""The server accepted USER anonymous with an arbitrary e-mail address as
        password (230 reply). The scanner logged out without listing or writing
        anything.""",
        consequence="""Anyone who reaches the server can download what the anonymous area
        exposes and, if it is writable, upload malware or use it as a drop box.""",
        solution="""Disable anonymous access (vsftpd "anonymous_enable=NO", ProFTPD remove
        the <Anonymous> block) unless the server is meant to publish public files, and
        then keep it read-only.""",
    ),
    entry(
        27002,
        "FTP server does not offer AUTH TLS",
        severity=2,
        kind="confirmed",
        category="FTP",
        check="ftp",
        diagnosis="""The FEAT reply does not list AUTH TLS, so user names, passwords and
        files cross the network in clear text.""",
        consequence="Anyone on the network path can capture FTP credentials and data.",
        solution="""Enable FTPS (AUTH TLS) and require it for logins, or replace FTP with
        SFTP.""",
    ),
    entry(
        105100,
        "Telnet service enabled",
        severity=3,
        kind="confirmed",
        category="Cleartext services",
        check="telnet",
        diagnosis="""A Telnet server answers on this port. Telnet sends logins and the whole
        session unencrypted.""",
        consequence="""Anyone on the network path can capture passwords and take over
        sessions; Telnet daemons on network devices are a favourite target of
        botnets.""",
        solution="Disable Telnet and use SSH for remote administration.",
    ),
    entry(
        105200,
        "Redis server does not require authentication",
        severity=4,
        kind="confirmed",
        category="Databases",
        check="redis",
        cvss=9.8,
        diagnosis="""The Redis server answered PING with +PONG and INFO with its details
        without any AUTH: it accepts commands from anyone who can connect.""",
        consequence="""An attacker can read and change all data and, through CONFIG SET and
        module loading, write files or run code on the host (a common way into
        servers).""",
        solution="""Set requirepass or ACL users (Redis 6+), bind to the addresses that need
        it, keep protected-mode on, and firewall the port.""",
    ),
    entry(
        105201,
        "Redis server information",
        severity=1,
        kind="info",
        category="Databases",
        check="redis",
        diagnosis="""Version, mode and OS the Redis server reported, or its reply when it
        refused unauthenticated commands.""",
        consequence="None by itself.",
        solution="No action is required.",
    ),
]
