"""Photos of appraisals go to a temporary private storage in every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from autocrm.core.storage import private_storage
from autocrm.trade_ins.models import AppraisalPhoto


@pytest.fixture(autouse=True)
def private_media(tmp_path: Path) -> Iterator[Path]:
    # The field's storage is built once when the model loads: rebuild it under the
    # overridden settings, and put it back afterwards.
    field = AppraisalPhoto._meta.get_field("image")
    previous = field.storage  # type: ignore[attr-defined]
    private = tmp_path / "private"
    with override_settings(PRIVATE_MEDIA_ROOT=private, MEDIA_ROOT=tmp_path / "media"):
        field.storage = private_storage()  # type: ignore[attr-defined]
        try:
            yield private
        finally:
            field.storage = previous  # type: ignore[attr-defined]
