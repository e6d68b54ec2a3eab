"""Merging two clients: every row of every app moves, the merge is on record."""

from __future__ import annotations

import pytest
from django.utils import timezone

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, SiteFactory, UserFactory
from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientIdentity,
    ClientMerge,
    ClientPhone,
    Consent,
)
from autocrm.clients.selectors import client_search, duplicate_pairs
from autocrm.clients.services import client_merge, consent_record
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import (
    Call,
    Channel,
    Conversation,
    FormSubmission,
    Message,
    Visit,
)
from autocrm.core.errors import Conflict, ValidationFailed
from autocrm.inventory.models import Reservation
from autocrm.inventory.services import reservation_create
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales.models import Request
from autocrm.sales.services import request_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    """Two cards of one person: the older from a phone call, the newer from Telegram."""
    dealer_center = DealerCenterFactory()
    head = UserFactory(roles=[RoleCode.HEAD], dealer_centers=[dealer_center])
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[dealer_center])
    older = ClientFactory(
        last_name="Смирнова",
        first_name="Анна",
        dealer_center=dealer_center,
        phones=["+79123456789"],
        emails=["anna@example.com"],
    )
    newer = ClientFactory(
        last_name="Смирнова",
        first_name="Анна",
        middle_name="Петровна",
        dealer_center=None,
        note="Пишет в Telegram",
        phones=["+79000000002", "8 912 345-67-89"],
        emails=["anna.s@example.com"],
    )
    ClientIdentity.objects.create(client=older, kind="whatsapp", external_id="79123456789")
    ClientIdentity.objects.create(
        client=newer, kind="telegram", external_id="5001", username="annas"
    )
    consent_record(client=newer, purpose="marketing", granted=True, source="telegram")
    telegram = Channel.objects.create(kind="telegram", name="Бот", dealer_center=dealer_center)
    phone_line = Channel.objects.create(kind="telephony", name="АТС")
    webform = Channel.objects.create(kind="webform", name="Сайт")
    conversation = Conversation.objects.create(
        channel=telegram, client=newer, external_thread="5001"
    )
    for n in range(2):
        Message.objects.create(
            conversation=conversation,
            client=newer,
            channel=telegram,
            direction="in",
            text=f"Сообщение {n}",
            external_id=f"m{n}",
            status="received",
        )
    Call.objects.create(
        channel=phone_line,
        external_id="call-1",
        client=newer,
        direction="in",
        client_number="+79000000002",
        status="finished",
        started_at=timezone.now(),
    )
    Call.objects.create(
        channel=phone_line,
        external_id="call-0",
        client=older,
        direction="in",
        client_number="+79123456789",
        status="missed",
        started_at=timezone.now(),
    )
    Visit.objects.create(client=newer, dealer_center=dealer_center, purpose="test_drive")
    FormSubmission.objects.create(channel=webform, client=newer, name="Анна", topic="Кредит")
    request = request_create(actor=manager, client=newer, topic="Tiggo 7")
    vehicle = VehicleFactory(site=SiteFactory(dealer_center=dealer_center))
    reservation = reservation_create(actor=manager, vehicle=vehicle, client=newer)
    return {
        "head": head,
        "older": older,
        "newer": newer,
        "conversation": conversation,
        "request": request,
        "reservation": reservation,
    }


def test_everything_of_the_merged_client_moves_to_the_survivor(history) -> None:
    older, newer, head = history["older"], history["newer"], history["head"]

    client_merge(actor=head, survivor=older, other=newer)

    assert Message.objects.filter(client=older).count() == 2
    assert Conversation.objects.get(pk=history["conversation"].pk).client == older
    assert Call.objects.filter(client=older).count() == 2
    assert Visit.objects.get().client == older
    assert FormSubmission.objects.get().client == older
    assert Request.objects.get(pk=history["request"].pk).client == older
    assert Reservation.objects.get(pk=history["reservation"].pk).client == older
    assert sorted(older.identities.values_list("kind", "external_id")) == [
        ("telegram", "5001"),
        ("whatsapp", "79123456789"),
    ]
    assert list(Consent.objects.values_list("client", "purpose")) == [(older.pk, "marketing")]
    # Nothing is left on the merged card.
    for model in (Message, Conversation, Call, Visit, FormSubmission, Request, Reservation):
        assert not model.objects.filter(client=newer).exists(), model
    assert not ClientPhone.objects.filter(client=newer).exists()
    assert not ClientIdentity.objects.filter(client=newer).exists()


def test_a_phone_on_both_cards_ends_up_once_and_the_survivor_keeps_its_primary(history) -> None:
    older, newer = history["older"], history["newer"]

    client_merge(survivor=older, other=newer)

    assert list(older.phones.values_list("number", "is_primary")) == [
        ("+79123456789", True),
        ("+79000000002", False),
    ]
    assert list(older.emails.values_list("address", "is_primary")) == [
        ("anna@example.com", True),
        ("anna.s@example.com", False),
    ]
    assert ClientPhone.objects.filter(number="+79123456789").count() == 1
    assert ClientEmail.objects.count() == 2


def test_the_merge_is_recorded_with_a_snapshot_and_the_counts(history) -> None:
    older, newer, head = history["older"], history["newer"], history["head"]
    created_at = newer.created_at.isoformat()

    merge = client_merge(actor=head, survivor=older, other=newer)

    merge = ClientMerge.objects.get(pk=merge.pk)
    assert (merge.survivor, merge.merged, merge.merged_by, merge.reason) == (
        older,
        newer,
        head,
        "manual",
    )
    assert merge.merged_snapshot == {
        "id": newer.pk,
        "kind": "person",
        "last_name": "Смирнова",
        "first_name": "Анна",
        "middle_name": "Петровна",
        "company_name": "",
        "inn": "",
        "dealer_center_id": None,
        "responsible_id": None,
        "phones": ["+79000000002", "+79123456789"],
        "emails": ["anna.s@example.com"],
        "identities": ["telegram:5001"],
        "created_at": created_at,
    }
    expected = {
        "clients.clientphone": 1,  # the shared number was dropped, not moved
        "clients.clientemail": 1,
        "clients.clientidentity": 1,
        "clients.consent": 1,
        "communications.conversation": 1,
        "communications.message": 2,
        "communications.call": 1,
        "communications.visit": 1,
        "communications.formsubmission": 1,
        "sales.request": 1,
        "inventory.reservation": 1,
    }
    assert {label: merge.moved.get(label) for label in expected} == expected
    assert set(merge.moved) - set(expected) == set()


def test_the_survivor_takes_what_it_lacked_and_keeps_its_own(history) -> None:
    older, newer = history["older"], history["newer"]

    client_merge(survivor=older, other=newer)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.middle_name == "Петровна"
    assert older.search_name == "смирнова анна петровна"
    assert older.note == "Пишет в Telegram"
    assert older.dealer_center_id is not None
    assert newer.merged_into == older


def test_the_merged_client_is_no_longer_listed(history) -> None:
    older, newer, head = history["older"], history["newer"], history["head"]
    assert set(client_search(user=head, q="+79123456789")) == {older, newer}
    assert [(p.first, p.second) for p in duplicate_pairs(user=head)] == [(older, newer)]

    client_merge(actor=head, survivor=older, other=newer)

    assert list(client_search(user=head, q="+79123456789")) == [older]
    assert list(client_search(user=head, q="Смирнова")) == [older]
    assert list(client_search(user=head, q="@annas")) == [older]
    assert duplicate_pairs(user=head) == []


def test_a_client_merged_earlier_follows_to_the_new_survivor() -> None:
    first, second, third = ClientFactory(), ClientFactory(), ClientFactory()
    client_merge(survivor=second, other=third)

    client_merge(survivor=first, other=second)

    third.refresh_from_db()
    assert third.merged_into == first
    assert ClientMerge.objects.count() == 2


def test_merging_a_client_with_himself_or_twice_is_refused(history) -> None:
    older, newer = history["older"], history["newer"]
    with pytest.raises(ValidationFailed) as error:
        client_merge(survivor=older, other=older)
    assert error.value.field == "other_id"

    client_merge(survivor=older, other=newer)
    with pytest.raises(Conflict):
        client_merge(survivor=older, other=Client.objects.get(pk=newer.pk))
    with pytest.raises(Conflict):
        client_merge(survivor=Client.objects.get(pk=newer.pk), other=older)
    assert ClientMerge.objects.count() == 1
