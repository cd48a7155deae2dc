"""Credentials at rest: sealed with Fernet (``cryptography``) under a key the
installation keeps outside the database (``ENCLAVE_CONNECTOR_KEY``).

Several keys, comma separated, allow rotation: the first seals, every one
opens (``MultiFernet``). Plain Python: the service passes the key text in.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretKeyError(Exception):
    """No key, a key that is not a Fernet key, or a sealed value that no
    configured key opens (the key was changed without keeping the old one)."""


def _fernet(keys: str) -> MultiFernet:
    parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if not parts:
        raise SecretKeyError("ENCLAVE_CONNECTOR_KEY is not set")
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except (ValueError, TypeError):
        raise SecretKeyError(
            "ENCLAVE_CONNECTOR_KEY is not a Fernet key (32 url-safe base64-encoded bytes; "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from None


def check_keys(keys: str) -> None:
    """Raises SecretKeyError unless ``keys`` can seal."""
    _fernet(keys)


def seal(values: dict[str, str], keys: str) -> str:
    return _fernet(keys).encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def unseal(token: str, keys: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet(keys).decrypt(token.encode()))
    except InvalidToken:
        raise SecretKeyError(
            "the stored credentials do not open with ENCLAVE_CONNECTOR_KEY (was the key "
            "changed? keep the old key after the new one, comma separated, or enter the "
            "credentials again)"
        ) from None
