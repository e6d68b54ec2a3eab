"""The admin shows trade-ins read-only and edits the booking settings."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from autocrm.accounts.tests.factories import UserFactory
from autocrm.trade_ins.models import Appraisal, AppraisalAppointment, AppraiserSettings, TradeIn
from autocrm.trade_ins.tests.factories import trade_in_world

pytestmark = pytest.mark.django_db


def test_admin_pages() -> None:
    world = trade_in_world()
    trade_in = world.appraise(world.book(world.at(10)))
    admin = HttpClient()
    admin.force_login(UserFactory.create(roles=["administrator"], is_staff=True))

    for model, pk in (
        (TradeIn, trade_in.pk),
        (AppraisalAppointment, trade_in.appointments.get().pk),
        (Appraisal, Appraisal.objects.get().pk),
        (AppraiserSettings, world.settings.pk),
    ):
        info = (model._meta.app_label, model._meta.model_name)
        listed = admin.get(reverse("admin:{}_{}_changelist".format(*info)))
        shown = admin.get(reverse("admin:{}_{}_change".format(*info), args=[pk]))
        assert listed.status_code == shown.status_code == 200, model
    # Trade-ins change through their services only.
    assert admin.get(reverse("admin:trade_ins_tradein_add")).status_code == 403
    changed = admin.post(
        reverse("admin:trade_ins_appraisersettings_change", args=[world.settings.pk]),
        {
            "dealer_center": world.dealer_center.pk,
            "slot_minutes": 90,
            "travel_buffer_minutes": 30,
            "max_days_ahead": 14,
        },
    )
    assert changed.status_code == 302
    world.settings.refresh_from_db()
    assert (world.settings.slot_minutes, world.settings.travel_buffer_minutes) == (90, 30)
