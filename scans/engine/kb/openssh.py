"""Known vulnerabilities of OpenSSH versions (check "versions"); see software.py."""

from .software import rule_entry

_SSH = "SSH"

OPENSSH = [
    rule_entry(
        38700,
        "OpenSSH signal handler race condition (regreSSHion)",
        category=_SSH,
        severity=5,
        cves=("CVE-2024-6387",),
        cvss=8.1,
        what="""OpenSSH sshd versions 8.5p1 up to 9.7p1 (and before 4.4p1) call
          async-signal-unsafe functions from the SIGALRM handler of LoginGraceTime.""",
        consequence="""An unauthenticated remote attacker can win the race and run code
          as root on glibc-based Linux systems.""",
        upgrade="Upgrade OpenSSH to 9.8p1 or later (as a stopgap, LoginGraceTime 0)",
    ),
    rule_entry(
        38701,
        "OpenSSH ssh-agent PKCS#11 remote code execution",
        category=_SSH,
        severity=4,
        cves=("CVE-2023-38408",),
        cvss=9.8,
        what="""The PKCS#11 feature of ssh-agent in OpenSSH before 9.3p2 has an
          insufficiently trustworthy search path.""",
        consequence="""When an agent is forwarded to a compromised system, that system
          can make the user's agent load libraries and run code on the user's machine.""",
        upgrade="Upgrade OpenSSH to 9.3p2 or later",
    ),
    rule_entry(
        38702,
        "OpenSSH 9.1 pre-authentication double free",
        category=_SSH,
        severity=3,
        cves=("CVE-2023-25136",),
        cvss=6.5,
        what="""OpenSSH 9.1 frees memory twice while handling options from a client
          during key exchange, before authentication.""",
        consequence="""A remote unauthenticated attacker can crash the sshd child process;
          code execution was judged hard but not excluded.""",
        upgrade="Upgrade OpenSSH to 9.2p1 or later",
    ),
    rule_entry(
        38703,
        "OpenSSH user enumeration",
        category=_SSH,
        severity=2,
        cves=("CVE-2018-15473",),
        cvss=5.3,
        what="""OpenSSH through 7.7 answers differently to malformed public key
          authentication requests for valid and invalid user names.""",
        consequence="Attackers can list valid accounts and focus password guessing.",
        upgrade="Upgrade OpenSSH to 7.8 or later",
    ),
    rule_entry(
        38704,
        "OpenSSH user enumeration through password hashing time",
        category=_SSH,
        severity=2,
        cves=("CVE-2016-6210",),
        cvss=5.9,
        what="""sshd in OpenSSH before 7.3 takes measurably longer to reject long
          passwords for existing users than for unknown ones.""",
        consequence="Attackers can tell which accounts exist by timing login attempts.",
        upgrade="Upgrade OpenSSH to 7.3 or later",
    ),
    rule_entry(
        38705,
        "OpenSSH before 7.4 multiple vulnerabilities",
        category=_SSH,
        severity=3,
        cves=("CVE-2016-10009", "CVE-2016-10010", "CVE-2016-10011", "CVE-2016-10012"),
        cvss=7.3,
        what="""OpenSSH before 7.4: ssh-agent loads PKCS#11 modules from any path, sshd
          with privilege separation off forwards Unix sockets as root, host key material
          may leak to the privilege-separated child, and the shared memory manager's
          bounds checks can be elided by the compiler.""",
        consequence="""Local or forwarded-agent attackers can run code or escalate
          privileges.""",
        upgrade="Upgrade OpenSSH to 7.4 or later",
    ),
    rule_entry(
        38706,
        "OpenSSH KEXINIT memory exhaustion",
        category=_SSH,
        severity=3,
        cves=("CVE-2016-8858",),
        cvss=7.5,
        what="""kex_input_kexinit in OpenSSH 6.x and 7.x through 7.3 lets a client send
          many duplicate KEXINIT requests, each allocating up to 128 MB.""",
        consequence="Unauthenticated attackers can exhaust the server's memory.",
        upgrade="Upgrade OpenSSH to 7.4 or later",
    ),
    rule_entry(
        38707,
        "OpenSSH AuthorizedKeysCommand privilege handling",
        category=_SSH,
        severity=3,
        cves=("CVE-2021-41617",),
        cvss=7.0,
        what="""sshd 6.2 through 8.7 runs AuthorizedKeysCommand and
          AuthorizedPrincipalsCommand helpers with sshd's supplemental groups.""",
        consequence="""If such a helper is configured to run as another user, it may gain
          privileges it should not have.""",
        upgrade="Upgrade OpenSSH to 8.8 or later",
    ),
    rule_entry(
        38708,
        "OpenSSH keyboard-interactive MaxAuthTries bypass",
        category=_SSH,
        severity=4,
        cves=("CVE-2015-5600",),
        cvss=8.5,
        what="""kbdint_next_device in sshd through 6.9 does not limit the devices a
          single keyboard-interactive connection asks for.""",
        consequence="""Attackers can try thousands of passwords in one connection,
          bypassing MaxAuthTries and slowing detection of brute force.""",
        upgrade="Upgrade OpenSSH to 7.0 or later",
    ),
    rule_entry(
        38709,
        "OpenSSH ssh client command injection through host names",
        category=_SSH,
        severity=2,
        cves=("CVE-2023-51385",),
        cvss=6.5,
        what="""The ssh client before 9.6 passes user or host names with shell
          metacharacters into %-expansions of ProxyCommand and similar options.""",
        consequence="""Opening a crafted name (for example from a malicious Git
          submodule URL) can run commands on the user's machine.""",
        upgrade="Upgrade OpenSSH to 9.6 or later",
    ),
    rule_entry(
        38710,
        "OpenSSH before 9.9p2 machine-in-the-middle and denial of service",
        category=_SSH,
        severity=3,
        cves=("CVE-2025-26465", "CVE-2025-26466"),
        cvss=6.8,
        what="""The ssh client 6.8p1 through 9.9p1 can skip host key verification when
          VerifyHostKeyDNS is on and memory runs out; sshd and ssh 9.5p1 through 9.9p1
          allocate memory without bound for SSH2_MSG_PING packets during key exchange.""",
        consequence="""Impersonation of servers to affected clients, and CPU and memory
          exhaustion of servers by unauthenticated attackers.""",
        upgrade="Upgrade OpenSSH to 9.9p2 or later",
    ),
]

ENTRIES = OPENSSH
