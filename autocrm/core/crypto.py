"""Encryption at rest of personal data (passport numbers, addresses, secrets of partners).

Fernet (AES-128-CBC + HMAC-SHA256) with the keys of ``settings.PII_ENCRYPTION_KEYS``: the
first key encrypts, every key decrypts, so keys rotate without downtime. A developer
checkout (DEBUG, no key set) derives a key from SECRET_KEY; production refuses to start
without one (config/settings.py).

A database dump alone therefore shows no passport number; reading one needs the key and
goes through the services that mask and log (finance.pii).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Stored values start with this marker, so that a column half migrated (plain values from
# before the field was encrypted) is still read correctly.
PREFIX = "fernet:"


def _development_key() -> bytes:
    digest = hashlib.sha256(f"autocrm-pii:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        fernets = [Fernet(key.encode()) for key in keys] or [Fernet(_development_key())]
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "PII_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes)."
        ) from error
    return MultiFernet(fernets)


def cipher() -> MultiFernet:
    return _cipher(tuple(getattr(settings, "PII_ENCRYPTION_KEYS", ()) or ()))


def encrypt(value: str) -> str:
    if value == "":
        return ""
    return PREFIX + cipher().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored or not stored.startswith(PREFIX):
        return stored
    try:
        return cipher().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "An encrypted value cannot be read with PII_ENCRYPTION_KEYS: was a key removed?"
        ) from error


def reencrypt(stored: str) -> str:
    """The value under the current first key (for key rotation)."""
    if not stored or not stored.startswith(PREFIX):
        return encrypt(stored) if stored else stored
    return PREFIX + cipher().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column whose value is encrypted in the database and plain in Python.

    It cannot be filtered or ordered on (the same value encrypts differently each time);
    keep a separate non-secret column (e.g. the last four digits) for look-ups.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return value
        return encrypt(str(value))


def mask(value: str, *, visible: int = 4) -> str:
    """``4510 123456`` → ``•••• ••3456``: the last ``visible`` characters, the rest hidden
    (spaces and dashes kept, so the shape stays recognisable)."""
    if not value:
        return ""
    shown = 0
    characters: list[str] = []
    for character in reversed(value):
        if character in " -" or shown < visible:
            characters.append(character)
            if character not in " -":
                shown += 1
        else:
            characters.append("•")
    return "".join(reversed(characters))
