"""The check modules, registered by name. A scan's ``checks`` list names keys of CHECKS."""

from __future__ import annotations

from .base import Check, CheckError
from .ftp import FTPCheck
from .http import HTTPCheck
from .info import InfoCheck
from .redis import RedisCheck
from .ssh import SSHCheck
from .telnet import TelnetCheck
from .tls import TLSCheck
from .versions import VersionsCheck

CHECKS: dict[str, Check] = {
    "info": InfoCheck(),
    "tls": TLSCheck(),
    "ssh": SSHCheck(),
    "http": HTTPCheck(),
    "ftp": FTPCheck(),
    "telnet": TelnetCheck(),
    "redis": RedisCheck(),
    "versions": VersionsCheck(),
}

__all__ = ["CHECKS", "Check", "CheckError"]
