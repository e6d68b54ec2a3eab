"""Showroom visits registered by the hostess: the client found or created by phone, the
visit recorded, the request opened or continued and the manager told."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.clients.services import ContactInfo, client_find_or_create, normalize_phone
from autocrm.communications.models import NotificationKind, Visit, VisitPurpose
from autocrm.communications.services import notification_create, visit_record
from autocrm.core.errors import ValidationFailed
from autocrm.sales.models import RequestSource
from autocrm.sales.selectors import sales_managers
from autocrm.sales.services import request_touch

logger = logging.getLogger(__name__)


def client_card_url(client_id: int) -> str:
    """The client card's address (the clients app owns the page)."""
    try:
        return reverse("clients:detail", args=[client_id])
    except NoReverseMatch:
        return f"/clients/{client_id}/"


def visit_register(
    *,
    actor: Any,
    phone: str,
    name: str = "",
    dealer_center_id: int,
    purpose: str,
    manager_id: int | None = None,
    note: str = "",
) -> Visit:
    """Register a walk-in; everything happens in one transaction, the e-mail after it."""
    number = normalize_phone(phone)
    if purpose not in VisitPurpose.values:
        raise ValidationFailed(_("Choose the purpose of the visit."), field="purpose")
    dealer_center = DealerCenter.objects.filter(pk=dealer_center_id).first()
    if dealer_center is None or not can_see_dealer_center(actor, dealer_center_id):
        raise ValidationFailed(_("Choose a dealer center you work in."), field="dealer_center_id")
    manager = None
    if manager_id is not None:
        manager = sales_managers(dealer_center_id=dealer_center_id).filter(pk=manager_id).first()
        if manager is None:
            raise ValidationFailed(
                _("Choose a sales manager of this dealer center."), field="manager_id"
            )
    with transaction.atomic():
        client, _created = client_find_or_create(
            actor=actor,
            contact=ContactInfo(name=(name or "").strip()[:450], phone=number),
            dealer_center_id=dealer_center_id,
            source="visit",
        )
        visit = visit_record(
            actor=actor,
            client=client,
            dealer_center_id=dealer_center_id,
            purpose=purpose,
            manager=manager,
            note=(note or "").strip(),
        )
        purpose_label = str(VisitPurpose(purpose).label)
        request, _opened = request_touch(
            client=client,
            source=RequestSource.VISIT,
            dealer_center_id=dealer_center_id,
            topic=purpose_label,
            at=visit.at,
        )
        if manager is not None:
            if request.responsible_id is None:
                request.responsible = manager
                request.save(update_fields=["responsible", "updated_at"])
            url = client_card_url(client.pk)
            text = _("%(client)s has come to %(dealer_center)s: %(purpose)s.") % {
                "client": client.display_name,
                "dealer_center": dealer_center.name,
                "purpose": purpose_label,
            }
            if visit.note:
                text = f"{text} {visit.note}"
            notification_create(
                user=manager,
                text=text,
                url=url,
                kind=NotificationKind.VISIT,
                subject=_("A client is waiting for you in the showroom"),
            )
    return visit
