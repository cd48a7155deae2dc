"""SSH: banner, protocol and algorithms (check "ssh")."""

from .entry import entry

_SSH = {"category": "SSH", "check": "ssh"}

ENTRIES = [
    entry(
        38600,
        "SSH server version",
        severity=1,
        kind="info",
        diagnosis="The SSH identification string the server sent (RFC 4253 section 4.2).",
        consequence="The banner names the SSH product, version and often the OS package.",
        solution="No action is required.",
        **_SSH,
    ),
    entry(
        38601,
        "SSH supported algorithms",
        severity=1,
        kind="info",
        diagnosis="""Key exchange, host key, cipher, MAC and compression algorithms from
        the server's KEXINIT message, which every SSH server sends before any
        authentication.""",
        consequence="None by itself; weak algorithms are reported as separate QIDs.",
        solution="No action is required.",
        **_SSH,
    ),
    entry(
        38602,
        "SSH key exchange with SHA-1 offered",
        severity=2,
        kind="confirmed",
        diagnosis="""The server offers key exchange methods based on SHA-1
        (diffie-hellman-group1-sha1, diffie-hellman-group14-sha1,
        diffie-hellman-group-exchange-sha1). group1 also uses a 1024-bit prime, within
        reach of precomputation (Logjam).""",
        consequence="""A client that prefers these methods gets a key exchange weaker than
        current practice; RFC 9142 marks them SHOULD NOT or MUST NOT.""",
        solution="""Remove the SHA-1 methods from KexAlgorithms (sshd_config); offer
        curve25519-sha256, ecdh-sha2-nistp256 and diffie-hellman-group16-sha512.""",
        **_SSH,
    ),
    entry(
        38603,
        "SSH CBC mode ciphers offered",
        severity=2,
        kind="confirmed",
        cves=("CVE-2008-5161",),
        cvss=2.6,
        diagnosis="""The server offers ciphers in CBC mode (aes128-cbc, 3des-cbc, ...).
        SSH's CBC mode allows an attacker to recover up to 32 bits of plaintext from a
        block of their choice.""",
        consequence="""An attacker on the network path may recover small amounts of
        plaintext, for example parts of a password typed in a session.""",
        solution="""Offer only CTR and AEAD ciphers (aes*-ctr, aes*-gcm@openssh.com,
        chacha20-poly1305@openssh.com with strict key exchange) in Ciphers.""",
        **_SSH,
    ),
    entry(
        38604,
        "SSH weak MAC algorithms offered",
        severity=2,
        kind="confirmed",
        diagnosis="""The server offers MD5-based or truncated (96-bit, 64-bit) MACs such as
        hmac-md5, hmac-sha1-96 or umac-64@openssh.com.""",
        consequence="""Weaker integrity protection of the session; MD5 and short tags leave
        less margin against forgery.""",
        solution="""Allow only hmac-sha2-256/512 (preferably their -etm@openssh.com forms)
        and umac-128 in MACs.""",
        **_SSH,
    ),
    entry(
        38605,
        "SSH protocol version 1 supported",
        severity=3,
        kind="confirmed",
        cves=("CVE-2001-0361",),
        cvss=4.0,
        diagnosis="""The server's banner announces protocol 1 ("SSH-1.5" or "SSH-1.99").
        SSH-1 has design flaws: CRC-32 integrity, session key recovery and
        insertion attacks.""",
        consequence="""An attacker can decrypt or hijack SSH-1 sessions; clients that fall
        back to SSH-1 lose the protection of SSH-2.""",
        solution="Allow protocol 2 only (OpenSSH 7.4 and later have no SSH-1 at all).",
        **_SSH,
    ),
    entry(
        38606,
        "SSH weak ciphers offered (none, arcfour, 64-bit blocks)",
        severity=3,
        kind="confirmed",
        cves=("CVE-2016-2183",),
        cvss=7.5,
        diagnosis="""The server offers the "none" cipher, RC4 (arcfour*) or ciphers with a
        64-bit block size (3des-cbc, blowfish-cbc, cast128-cbc).""",
        consequence=""""none" sends the session in clear text; RC4 is biased; 64-bit
        blocks leak data through birthday collisions on long sessions (SWEET32).""",
        solution="Remove these ciphers from Ciphers in sshd_config.",
        **_SSH,
    ),
    entry(
        38607,
        "SSH prefix truncation attack (Terrapin)",
        severity=3,
        kind="confirmed",
        cves=("CVE-2023-48795",),
        cvss=5.9,
        diagnosis="""The server offers chacha20-poly1305@openssh.com, or an
        encrypt-then-MAC MAC together with a CBC cipher, and does not announce
        strict key exchange (kex-strict-s-v00@openssh.com).""",
        consequence="""A man in the middle can delete messages at the start of the secure
        channel, for example to turn off keystroke timing obfuscation or downgrade
        public key algorithms negotiated through extensions.""",
        solution="""Update the SSH server to a release with strict key exchange (OpenSSH
        9.6 or a patched distribution package), or disable the affected ciphers and
        MACs.""",
        **_SSH,
    ),
    entry(
        38608,
        "SSH DSA host key offered",
        severity=2,
        kind="confirmed",
        diagnosis="""The server offers ssh-dss host keys. DSA in SSH is fixed at 1024 bits
        and SHA-1; OpenSSH disabled it by default in 7.0 and removed it in 9.8.""",
        consequence="Weak server authentication for clients that accept ssh-dss.",
        solution="Remove the DSA host key (HostKey) and use Ed25519, ECDSA or RSA-SHA2.",
        **_SSH,
    ),
]
