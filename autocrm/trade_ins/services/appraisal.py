"""The appraiser's work: the checklist, the defects, the photos and the offered price."""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from autocrm.accounts.roles import RoleCode
from autocrm.core.audit import user_or_none
from autocrm.core.errors import Conflict, TransitionNotAllowed, ValidationFailed
from autocrm.core.money import round_money
from autocrm.core.storage import check_upload
from autocrm.inventory.models import BodyZone, DefectKind, Severity
from autocrm.trade_ins.models import (
    AppointmentStatus,
    Appraisal,
    AppraisalAppointment,
    AppraisalDefect,
    AppraisalPhoto,
    ChecklistItem,
    CheckResult,
    TradeIn,
    TradeInStatus,
)
from autocrm.trade_ins.services.common import (
    local_today,
    log_to_order,
    require_trade_in_access,
    set_status,
    trade_in_lock,
)
from autocrm.trade_ins.validation import clean_mileage

MAX_PRICE = Decimal("999999999999.99")
MAX_DEFECTS = 60
MAX_PHOTOS = 60
MAX_OFFER_DAYS = 366
NOTE_MAX_LENGTH = 300
PHOTO_TYPES = ("image/jpeg", "image/png")
# Statuses in which the appraisal may be recorded (first time) or revised.
APPRAISABLE = (TradeInStatus.APPRAISAL_SCHEDULED, TradeInStatus.APPRAISED)
# Photos may be added until the trade-in is closed one way or another.
PHOTOGRAPHABLE = (
    TradeInStatus.APPRAISAL_SCHEDULED,
    TradeInStatus.APPRAISED,
    TradeInStatus.ACCEPTED,
)


@dataclass(frozen=True)
class DefectInput:
    zone: str
    kind: str
    severity: str
    note: str = ""
    repair_estimate: Decimal | int | str = Decimal("0")


def money(value: Any, *, field: str, allow_zero: bool = False) -> Decimal:
    """An amount of roubles from the input, rounded to kopecks; never a float."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ValidationFailed(_("Enter the amount as a decimal number."), field=field)
    try:
        amount = round_money(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed(_("Enter the amount as a decimal number."), field=field) from None
    if not amount.is_finite() or amount > MAX_PRICE:
        raise ValidationFailed(_("The amount is too large."), field=field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationFailed(_("The amount must be positive."), field=field)
    return amount


def clean_checklist(checklist: Any) -> dict[str, str]:
    if not isinstance(checklist, dict):
        raise ValidationFailed(_("Fill in the checklist."), field="checklist")
    unknown = sorted(set(checklist) - set(ChecklistItem.values))
    if unknown:
        raise ValidationFailed(
            _("Unknown checklist item."), field=f"checklist.{str(unknown[0])[:40]}"
        )
    cleaned: dict[str, str] = {}
    for item in ChecklistItem.values:
        value = checklist.get(item)
        if value is None:
            raise ValidationFailed(
                _("Check “%(item)s”.") % {"item": ChecklistItem(item).label},
                field=f"checklist.{item}",
            )
        if value not in CheckResult.values:
            raise ValidationFailed(_("Answer “ok” or “not_ok”."), field=f"checklist.{item}")
        cleaned[item] = value
    return cleaned


def clean_defects(defects: Any) -> list[AppraisalDefect]:
    if defects is None:
        return []
    if not isinstance(defects, list | tuple):
        raise ValidationFailed(_("Send the defects as a list."), field="defects")
    if len(defects) > MAX_DEFECTS:
        raise ValidationFailed(
            _("At most %(limit)s defects.") % {"limit": MAX_DEFECTS}, field="defects"
        )
    rows = []
    for index, defect in enumerate(defects):
        prefix = f"defects.{index}"
        try:
            item = defect if isinstance(defect, DefectInput) else DefectInput(**defect)
        except TypeError:
            raise ValidationFailed(
                _("A defect has a zone, a kind, a severity, a note and a repair estimate."),
                field=prefix,
            ) from None
        if item.zone not in BodyZone.values:
            raise ValidationFailed(_("Unknown body zone."), field=f"{prefix}.zone")
        if item.kind not in DefectKind.values:
            raise ValidationFailed(_("Unknown kind of defect."), field=f"{prefix}.kind")
        if item.severity not in Severity.values:
            raise ValidationFailed(_("Unknown severity."), field=f"{prefix}.severity")
        note = " ".join((item.note or "").split())
        if len(note) > NOTE_MAX_LENGTH:
            raise ValidationFailed(
                _("At most %(limit)s characters.") % {"limit": NOTE_MAX_LENGTH},
                field=f"{prefix}.note",
            )
        rows.append(
            AppraisalDefect(
                zone=item.zone,
                kind=item.kind,
                severity=item.severity,
                note=note,
                repair_estimate=money(
                    item.repair_estimate, field=f"{prefix}.repair_estimate", allow_zero=True
                ),
            )
        )
    return rows


@transaction.atomic
def appraisal_record(
    *,
    actor: Any,
    trade_in: TradeIn,
    checklist: dict[str, str],
    defects: list[DefectInput] | list[dict[str, Any]] | None,
    offered_price: Decimal | int | str,
    valid_until: date,
    comment: str = "",
    mileage: int | None = None,
) -> Appraisal:
    """Record (or, until the offer is accepted, revise) the appraisal: the inspection is
    done and the trade-in is appraised with an offered price valid until a date."""
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    if trade_in.status not in APPRAISABLE:
        raise TransitionNotAllowed(
            _("The trade-in is %(status)s: its appraisal can no longer change.")
            % {"status": trade_in.get_status_display().lower()},
            field="status",
        )
    cleaned_checklist = clean_checklist(checklist)
    defect_rows = clean_defects(defects)
    price = money(offered_price, field="offered_price")
    if not isinstance(valid_until, date):
        raise ValidationFailed(_("Enter the date the offer is valid until."), field="valid_until")
    today = local_today(trade_in)
    if valid_until < today:
        raise ValidationFailed(_("The offer cannot end in the past."), field="valid_until")
    if valid_until > today + timedelta(days=MAX_OFFER_DAYS):
        raise ValidationFailed(
            _("An offer is valid for at most %(days)s days.") % {"days": MAX_OFFER_DAYS},
            field="valid_until",
        )
    mileage = clean_mileage(mileage)
    appointment = (
        AppraisalAppointment.objects.select_for_update()
        .filter(trade_in=trade_in, status=AppointmentStatus.BOOKED)
        .first()
    )
    # A head may type in what the appraiser found; the appraisal is still the appraiser's.
    appraiser = user_or_none(actor)
    if appointment is not None and (
        appraiser is None or not appraiser.has_role(RoleCode.APPRAISER)
    ):
        appraiser = appointment.appraiser
    if appraiser is None:
        raise ValidationFailed(_("Who appraised the car?"), field="appraiser")
    appraisal, _created = Appraisal.objects.update_or_create(
        trade_in=trade_in,
        defaults={
            "appraiser": appraiser,
            "appraised_at": timezone.now(),
            "checklist": cleaned_checklist,
            "offered_price": price,
            "valid_until": valid_until,
            "comment": (comment or "").strip(),
        },
    )
    appraisal.defects.all().delete()
    for row in defect_rows:
        row.appraisal = appraisal
    AppraisalDefect.objects.bulk_create(defect_rows)
    if appointment is not None:
        appointment.status = AppointmentStatus.DONE
        appointment.save(update_fields=["status", "updated_at"])
    if mileage is not None:
        trade_in.mileage = mileage
        trade_in.save(update_fields=["mileage", "updated_at"])
    offer = _("offered %(price)s ₽ until %(until)s") % {
        "price": price,
        "until": valid_until.strftime("%d.%m.%Y"),
    }
    if trade_in.status == TradeInStatus.APPRAISAL_SCHEDULED:
        set_status(trade_in, TradeInStatus.APPRAISED, actor, note=offer, amount=price)
    else:
        log_to_order(
            trade_in,
            actor,
            text=_("%(car)s: appraisal revised, %(offer)s") % {"car": trade_in, "offer": offer},
            amount=price,
        )
    return appraisal


def _readable_image(content: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    return True


@transaction.atomic
def appraisal_photo_add(
    *, actor: Any, trade_in: TradeIn, upload: IO[bytes], caption: str = ""
) -> AppraisalPhoto:
    """Store a photo of the car. Its type is told from its content (JPEG or PNG only) and
    the picture must decode; it is saved outside the web root under a random name."""
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    if trade_in.status not in PHOTOGRAPHABLE:
        raise Conflict(
            _("The trade-in is %(status)s: no more photos.")
            % {"status": trade_in.get_status_display().lower()},
            code="trade_in_closed",
        )
    caption = " ".join((caption or "").split())
    if len(caption) > 200:
        raise ValidationFailed(_("At most %(limit)s characters.") % {"limit": 200}, field="caption")
    if AppraisalPhoto.objects.filter(trade_in=trade_in).count() >= MAX_PHOTOS:
        raise ValidationFailed(
            _("At most %(limit)s photos per car.") % {"limit": MAX_PHOTOS}, field="file"
        )
    checked = check_upload(upload, field="file", max_bytes=settings.DOCUMENT_MAX_BYTES)
    if checked.content_type not in PHOTO_TYPES or not _readable_image(checked.content):
        raise ValidationFailed(_("Only JPEG and PNG photos are accepted."), field="file")
    original = os.path.basename(str(getattr(upload, "name", "") or ""))[:255]
    photo = AppraisalPhoto(
        trade_in=trade_in,
        caption=caption,
        content_type=checked.content_type,
        size=len(checked.content),
        sha256=checked.sha256,
        original_name=original,
        uploaded_by=user_or_none(actor),
    )
    photo.image.save(
        f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False
    )
    photo.save()
    return photo
