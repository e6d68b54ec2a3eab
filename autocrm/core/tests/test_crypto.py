"""Encryption at rest (core.crypto): Fernet values with a marker, plain values from before
encryption read as they are, key rotation (the first key encrypts, every key decrypts),
a missing or malformed key refused loudly, and masking for display."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from autocrm.core.crypto import PREFIX, EncryptedTextField, decrypt, encrypt, mask, reencrypt

PASSPORT = "4510 123456"


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_a_value_is_encrypted_with_the_marker_and_decrypts_back(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    stored = encrypt(PASSPORT)
    assert stored.startswith("fernet:")
    assert PREFIX == "fernet:"
    assert "123456" not in stored
    assert "4510" not in stored
    assert decrypt(stored) == PASSPORT
    # A fresh IV each time: equal values do not look equal in the database.
    assert encrypt(PASSPORT) != stored
    assert decrypt(encrypt("Мурманск, ул. Ленина")) == "Мурманск, ул. Ленина"


def test_empty_and_legacy_plain_values(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    assert encrypt("") == ""
    assert decrypt("") == ""
    # A value written before the column was encrypted is read as it is.
    assert decrypt("4510 654321") == "4510 654321"
    assert reencrypt("") == ""
    legacy = reencrypt("4510 654321")
    assert legacy.startswith(PREFIX)
    assert decrypt(legacy) == "4510 654321"


def test_the_development_key_without_configured_keys(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = []
    stored = encrypt(PASSPORT)
    assert stored.startswith(PREFIX)
    assert decrypt(stored) == PASSPORT
    # It is not readable with some other key.
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(ImproperlyConfigured):
        decrypt(stored)


def test_key_rotation_reads_old_values_and_reencrypts_them(settings: Any) -> None:
    old, new = new_key(), new_key()
    settings.PII_ENCRYPTION_KEYS = [old]
    stored = encrypt(PASSPORT)

    settings.PII_ENCRYPTION_KEYS = [new, old]  # the new key first: it encrypts from now on
    assert decrypt(stored) == PASSPORT
    fresh = encrypt("770-001")
    rotated = reencrypt(stored)
    assert rotated.startswith(PREFIX)
    assert rotated != stored
    assert decrypt(rotated) == PASSPORT

    settings.PII_ENCRYPTION_KEYS = [new]  # the old key retired after re-encryption
    assert decrypt(rotated) == PASSPORT
    assert decrypt(fresh) == "770-001"
    with pytest.raises(ImproperlyConfigured):
        decrypt(stored)  # not re-encrypted: unreadable without the old key

    settings.PII_ENCRYPTION_KEYS = [old]
    with pytest.raises(ImproperlyConfigured):
        decrypt(rotated)


def test_a_wrong_key_is_improperly_configured_not_garbage(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    stored = encrypt(PASSPORT)
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(ImproperlyConfigured, match="was a key removed"):
        decrypt(stored)


@pytest.mark.parametrize("key", ["not-a-fernet-key", "", "c2hvcnQ="])
def test_a_malformed_key_is_refused(settings: Any, key: str) -> None:
    settings.PII_ENCRYPTION_KEYS = [key]
    with pytest.raises(ImproperlyConfigured, match="Fernet keys"):
        encrypt(PASSPORT)


def test_the_field_encrypts_on_the_way_in_and_decrypts_on_the_way_out(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    field = EncryptedTextField()
    stored = field.get_prep_value(PASSPORT)
    assert stored.startswith(PREFIX)
    assert field.from_db_value(stored, None, None) == PASSPORT
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, None) is None
    assert field.get_prep_value("") == ""


@pytest.mark.parametrize(
    ("value", "visible", "masked"),
    [
        ("4510 123456", 4, "•••• ••3456"),
        ("4510123456", 4, "••••••3456"),
        ("510-001", 2, "•••-•01"),
        ("+79001234567", 4, "••••••••4567"),
        ("12", 4, "12"),
        ("", 4, ""),
        ("abcdef", 0, "••••••"),
    ],
)
def test_mask(value: str, visible: int, masked: str) -> None:
    assert mask(value, visible=visible) == masked


def test_mask_keeps_four_by_default() -> None:
    assert mask("4510 123456") == "•••• ••3456"
