"""Client services: normalisation, creation, find-or-create, identities and consents."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from autocrm.clients import services
from autocrm.clients.models import Client, ClientEmail, ClientIdentity, ClientPhone, Consent
from autocrm.clients.selectors import latest_consents
from autocrm.clients.services import (
    ContactInfo,
    IdentityRef,
    client_create,
    client_find_or_create,
    client_link_identity,
    consent_record,
    normalize_email,
    normalize_phone,
)
from autocrm.clients.tests.factories import ClientFactory
from autocrm.core.errors import Conflict, ValidationFailed


@pytest.mark.parametrize(
    "raw",
    [
        "8 (912) 345-67-89",
        "+7 912 345 67 89",
        "79123456789",
        "89123456789",
        "+7(912)345-67-89",
        "9123456789",
        " 8-912-345-67-89 ",
        "+7\u00a0912\u00a0345\u00a067\u00a089",
    ],
)
def test_every_usual_notation_is_one_number(raw: str) -> None:
    assert normalize_phone(raw) == "+79123456789"


def test_foreign_numbers_keep_their_country() -> None:
    assert normalize_phone("+375 29 123-45-67") == "+375291234567"
    assert normalize_phone("375291234567") == "+375291234567"


@pytest.mark.parametrize("raw", ["", "   ", "abc", "123", "+7 912", "8 (912) 345-67-89-00-11-22"])
def test_a_bad_number_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        normalize_phone(raw, field_name="phones[2]")
    assert error.value.field == "phones[2]"


def test_e_mails_are_lower_case_and_checked() -> None:
    assert normalize_email("  Ivan.Petrov@Example.COM ") == "ivan.petrov@example.com"
    with pytest.raises(ValidationFailed) as error:
        normalize_email("ivan@", field_name="emails[0]")
    assert error.value.field == "emails[0]"


@pytest.mark.django_db
def test_client_create_normalises_contacts_and_fills_the_search_name() -> None:
    client = client_create(
        last_name=" Иванов ",
        first_name="Пётр",
        phones=["8 (912) 345-67-89", "+7 912 345 67 89", "+7 900 000-00-01"],
        emails=["Petr@Mail.RU"],
        consents={"personal_data": True},
    )

    assert client.search_name == "иванов пётр"
    assert list(client.phones.values_list("number", "is_primary")) == [
        ("+79123456789", True),
        ("+79000000001", False),
    ]
    assert list(client.emails.values_list("address", flat=True)) == ["petr@mail.ru"]
    assert list(client.consents.values_list("purpose", "granted", "source")) == [
        ("personal_data", True, "manual")
    ]


@pytest.mark.django_db
def test_client_create_refuses_bad_input_and_stores_nothing() -> None:
    with pytest.raises(ValidationFailed) as error:
        client_create(last_name="Иванов", phones=["+79123456789", "not a phone"])
    assert error.value.field == "phones[1]"
    with pytest.raises(ValidationFailed) as error:
        client_create(kind="company", company_name=" ")
    assert error.value.field == "company_name"
    with pytest.raises(ValidationFailed) as error:
        client_create(last_name="Иванов", consents={"telepathy": True})
    assert error.value.field == "purpose"

    assert Client.objects.count() == 0
    assert ClientPhone.objects.count() == 0


# --- find or create ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_sender_becomes_a_client_with_all_his_contacts() -> None:
    client, created = client_find_or_create(
        contact=ContactInfo(
            name="Анна Смирнова",
            phone="8 912 345 67 89",
            email="Anna@Example.com",
            identity=IdentityRef("telegram", "5001", username="@AnnaS", display_name="Анна"),
            consents={"personal_data": True, "unknown": True},
        ),
        source="webform:3",
    )

    assert created is True
    assert (client.first_name, client.last_name) == ("Анна", "Смирнова")
    assert list(client.phones.values_list("number", flat=True)) == ["+79123456789"]
    assert list(client.emails.values_list("address", flat=True)) == ["anna@example.com"]
    assert list(client.identities.values_list("kind", "external_id", "username")) == [
        ("telegram", "5001", "annas")
    ]
    assert list(client.consents.values_list("purpose", "granted", "source")) == [
        ("personal_data", True, "webform:3")
    ]


@pytest.mark.django_db
def test_the_identity_finds_the_client_first() -> None:
    known = ClientFactory(phones=["+79000000001"])
    ClientIdentity.objects.create(client=known, kind="telegram", external_id="5001")
    ClientFactory(phones=["+79123456789"])  # owns the phone the message mentions

    client, created = client_find_or_create(
        contact=ContactInfo(
            name="Кто-то", phone="+79123456789", identity=IdentityRef("telegram", "5001")
        )
    )

    assert (client, created) == (known, False)
    # The phone is learned: the next call from it lands here too.
    assert sorted(known.phones.values_list("number", flat=True)) == [
        "+79000000001",
        "+79123456789",
    ]
    assert Client.objects.count() == 2


@pytest.mark.django_db
def test_the_phone_in_any_notation_finds_the_client_and_teaches_it_the_messenger() -> None:
    known = ClientFactory(phones=["+79123456789"])

    client, created = client_find_or_create(
        contact=ContactInfo(
            phone="8 (912) 345-67-89",
            email="new@example.com",
            identity=IdentityRef("whatsapp", "79123456789", display_name="Пётр"),
        )
    )

    assert (client, created) == (known, False)
    assert list(known.identities.values_list("kind", "external_id")) == [
        ("whatsapp", "79123456789")
    ]
    assert list(known.emails.values_list("address", flat=True)) == ["new@example.com"]
    assert list(known.phones.values_list("number", flat=True)) == ["+79123456789"]


@pytest.mark.django_db
def test_the_e_mail_finds_the_client_whatever_its_case() -> None:
    known = ClientFactory(emails=["ivan@example.com"])

    client, created = client_find_or_create(contact=ContactInfo(email="IVAN@Example.com"))

    assert (client, created) == (known, False)
    assert Client.objects.count() == 1
    assert ClientEmail.objects.count() == 1


@pytest.mark.django_db
def test_merged_clients_are_not_matched_but_their_survivor_is() -> None:
    survivor = ClientFactory()
    merged = ClientFactory(phones=["+79123456789"])
    ClientIdentity.objects.create(client=merged, kind="telegram", external_id="77")
    services.client_merge(survivor=survivor, other=merged)

    by_phone, _ = client_find_or_create(contact=ContactInfo(phone="89123456789"))
    by_identity, _ = client_find_or_create(
        contact=ContactInfo(identity=IdentityRef("telegram", "77"))
    )

    assert by_phone == by_identity == survivor


@pytest.mark.django_db
def test_an_identity_created_meanwhile_by_a_concurrent_event_is_used(monkeypatch) -> None:
    # Between our lookup and our insert a concurrent event from the same Telegram account
    # created the client: the unique (kind, external_id) refuses our identity, our
    # half-made client is rolled back and the other one is used.
    theirs = ClientFactory()
    ClientIdentity.objects.create(client=theirs, kind="telegram", external_id="5001")
    real_find = services.client_find
    calls = []

    def find_missing_the_first_time(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real_find(**kwargs)

    monkeypatch.setattr(services, "client_find", find_missing_the_first_time)

    client, created = client_find_or_create(
        contact=ContactInfo(
            name="Анна", phone="+79123456789", identity=IdentityRef("telegram", "5001")
        )
    )

    assert (client, created) == (theirs, False)
    assert Client.objects.count() == 1
    assert ClientIdentity.objects.count() == 1
    assert list(theirs.phones.values_list("number", flat=True)) == ["+79123456789"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_first_messages_from_one_account_make_one_client() -> None:
    barrier = threading.Barrier(4)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def first_message() -> None:
        try:
            barrier.wait()
            client, created = client_find_or_create(
                contact=ContactInfo(name="Анна", identity=IdentityRef("telegram", "9001"))
            )
            results.append((client.pk, created))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_message) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Client.objects.count() == 1
    assert ClientIdentity.objects.count() == 1
    assert {pk for pk, _ in results} == {Client.objects.get().pk}
    assert sorted(created for _, created in results) == [False, False, False, True]


@pytest.mark.django_db
def test_a_messenger_account_belongs_to_one_client() -> None:
    owner, other = ClientFactory(), ClientFactory()
    identity = IdentityRef("vk", "123", username="@Ivan")
    first = client_link_identity(client=owner, identity=identity)

    assert client_link_identity(client=owner, identity=identity) == first
    with pytest.raises(Conflict) as error:
        client_link_identity(client=other, identity=identity)
    assert error.value.field == "external_id"
    assert first.username == "ivan"
    assert ClientIdentity.objects.count() == 1


# --- consents ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_latest_consent_per_purpose_holds() -> None:
    client = ClientFactory()
    now = timezone.now()
    consent_record(client=client, purpose="marketing", granted=True, source="webform:1", at=now)
    withdrawn = consent_record(
        client=client, purpose="marketing", granted=False, source="call", at=now + timedelta(1)
    )
    # Entered later, but stated earlier (a paper form typed in): it does not override.
    consent_record(
        client=client, purpose="marketing", granted=True, source="paper", at=now - timedelta(3)
    )
    personal = consent_record(client=client, purpose="personal_data", granted=True, source="visit")

    latest = latest_consents(Client.objects.prefetch_related("consents").get(pk=client.pk))

    assert latest == {"marketing": withdrawn, "personal_data": personal}
    assert Consent.objects.filter(client=client).count() == 4


@pytest.mark.django_db
def test_an_unknown_consent_purpose_is_refused() -> None:
    client = ClientFactory()
    with pytest.raises(ValidationFailed) as error:
        consent_record(client=client, purpose="spam", granted=True, source="api")
    assert error.value.field == "purpose"
    assert Consent.objects.count() == 0
