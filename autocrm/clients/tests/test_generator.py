import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from autocrm.accounts.tests.factories import DealerCenterFactory
from autocrm.clients.generator import (
    TELEGRAM_ID_BASE,
    feminine,
    generate_clients,
    generated_phone,
    transliterate,
)
from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientIdentity,
    ClientKind,
    ClientPhone,
    IdentityKind,
)
from autocrm.clients.services import (
    client_find,
    normalize_email,
    normalize_phone,
    search_text,
)
from autocrm.clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_generated_clients_have_valid_contacts_and_are_spread_over_dealer_centers():
    centers = [DealerCenterFactory(), DealerCenterFactory(), DealerCenterFactory()]
    DealerCenterFactory(is_active=False)
    existing = ClientFactory()

    result = generate_clients(count=600, batch_size=250, seed=7)

    assert result.clients == 600
    generated = Client.objects.exclude(pk=existing.pk)
    assert generated.count() == 600
    assert (result.first_id, result.last_id) == (
        generated.order_by("pk").first().pk,
        generated.order_by("pk").last().pk,
    )
    assert set(generated.values_list("dealer_center_id", flat=True)) == {c.pk for c in centers}
    assert ClientPhone.objects.count() == result.phones
    assert ClientEmail.objects.count() == result.emails
    assert ClientIdentity.objects.count() == result.identities
    # 1-2 phones each, exactly one of them primary, all in E.164.
    per_client = dict(generated.annotate(n=Count("phones")).values_list("pk", "n"))
    assert set(per_client.values()) == {1, 2}
    assert 600 < result.phones < 1200
    assert ClientPhone.objects.filter(is_primary=True).count() == 600
    for number in ClientPhone.objects.values_list("number", flat=True):
        assert normalize_phone(number) == number
        assert number.startswith("+79")
        assert len(number) == 12
    primary = list(ClientPhone.objects.filter(is_primary=True).values_list("number", flat=True))
    assert len(set(primary)) == 600
    # Some e-mails (lower-case, valid), some Telegram identities (unique ids), some companies.
    assert 100 < result.emails < 350
    for address in ClientEmail.objects.values_list("address", flat=True):
        assert normalize_email(address) == address
    assert 50 < result.identities < 200
    assert set(ClientIdentity.objects.values_list("kind", flat=True)) == {IdentityKind.TELEGRAM}
    for identity in ClientIdentity.objects.all():
        assert identity.external_id == str(TELEGRAM_ID_BASE + identity.client_id)
    assert 0 < generated.filter(kind=ClientKind.COMPANY).count() < 60
    for client in generated:
        assert client.first_name
        assert client.last_name
        assert client.search_name == search_text(
            client.last_name, client.first_name, client.middle_name, client.company_name,
            client.inn,
        )  # fmt: skip
        assert client.merged_into_id is None


def test_a_generated_client_is_found_by_his_phone_written_any_way():
    DealerCenterFactory()
    generate_clients(count=50, seed=3)
    phone = ClientPhone.objects.filter(is_primary=True).order_by("pk")[10]
    digits = phone.number[2:]  # without +7
    for written in (
        f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
        f"+7 {digits[:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}",
        f"7{digits}",
    ):
        assert client_find(phone=written) == phone.client


def test_a_second_run_adds_more_without_colliding():
    first = generate_clients(count=300, batch_size=100, seed=1)
    second = generate_clients(count=300, batch_size=100, seed=1)

    assert Client.objects.count() == 600
    assert second.first_id > first.last_id
    primary = ClientPhone.objects.filter(is_primary=True).values_list("number", flat=True)
    assert len(set(primary)) == 600
    identities = ClientIdentity.objects.values_list("external_id", flat=True)
    assert len(set(identities)) == len(identities) == first.identities + second.identities
    # Another stream of names, not the first run again.
    names = lambda ids: list(  # noqa: E731
        Client.objects.filter(pk__in=ids).order_by("pk").values_list("last_name", "first_name")
    )
    assert names(range(first.first_id, first.first_id + 20)) != names(
        range(second.first_id, second.first_id + 20)
    )


def test_helpers():
    assert generated_phone(1) != generated_phone(2)
    assert generated_phone(1) != generated_phone(1, 1)
    assert len({generated_phone(i) for i in range(10_000)}) == 10_000
    assert feminine("Иванов") == "Иванова"
    assert feminine("Толстой") == "Толстая"
    assert feminine("Шевченко") == "Шевченко"
    assert transliterate("Щукин Ёж") == "shchukinezh"


def test_command_reports_and_refuses_bad_arguments():
    DealerCenterFactory()
    out = io.StringIO()
    call_command("generate_clients", "--clients", "40", "--batch", "15", stdout=out)
    assert Client.objects.count() == 40
    assert "Generated 40 clients" in out.getvalue()
    with pytest.raises(CommandError, match="--clients must be at least 1"):
        call_command("generate_clients", "--clients", "0")
    with pytest.raises(CommandError, match="--batch must be between"):
        call_command("generate_clients", "--clients", "5", "--batch", "0")
    assert Client.objects.count() == 40
