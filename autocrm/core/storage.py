"""Storage for files that must not be served directly: order documents, scans, photos of
appraisals, credit questionnaires. They live under ``settings.PRIVATE_MEDIA_ROOT``, outside
the web root; views stream them after checking who may see them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.translation import gettext as _

from autocrm.core.errors import ValidationFailed


class PrivateStorage(FileSystemStorage):
    """Its root follows ``settings.PRIVATE_MEDIA_ROOT`` at every use, so a settings
    override (tests, a per-tenant root) takes effect on fields built at import time."""

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def private_storage() -> FileSystemStorage:
    # A callable keeps migrations free of the path.
    return PrivateStorage(base_url=None)


# Signatures of the file types accepted as uploaded scans and photos.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


@dataclass(frozen=True)
class CheckedUpload:
    content: bytes
    content_type: str
    extension: str
    sha256: str


def check_upload(
    upload: IO[bytes], *, field: str = "file", max_bytes: int | None = None
) -> CheckedUpload:
    """Read an uploaded file and tell its type from its content, not from its name or the
    client's Content-Type. Only PDF, JPEG and PNG up to the size limit pass."""
    limit = max_bytes if max_bytes is not None else settings.DOCUMENT_MAX_BYTES
    content = upload.read(limit + 1)
    if not content:
        raise ValidationFailed(_("The file is empty."), field=field)
    if len(content) > limit:
        raise ValidationFailed(
            _("The file is larger than %(limit)s MB.") % {"limit": round(limit / 1048576, 1)},
            field=field,
        )
    for signature, content_type, extension in _SIGNATURES:
        if content.startswith(signature):
            return CheckedUpload(
                content, content_type, extension, hashlib.sha256(content).hexdigest()
            )
    raise ValidationFailed(_("Only PDF, JPEG and PNG files are accepted."), field=field)
