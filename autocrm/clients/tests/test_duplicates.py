"""Likely duplicates: the selector's pairs and the duplicates / merge screens."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client, ClientMerge
from autocrm.clients.selectors import MAX_GROUP_SIZE, duplicate_pairs
from autocrm.clients.services import client_merge
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Channel, Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def dcs() -> tuple[Any, Any]:
    return DealerCenterFactory(name="A"), DealerCenterFactory(name="B")


@pytest.fixture
def management() -> Any:
    return UserFactory(roles=[RoleCode.MANAGEMENT])


# Surnames with different first letters: never alike, whatever their dealer center.
SURNAMES = [
    "Абрамов",
    "Борисов",
    "Волков",
    "Григорьев",
    "Дмитриев",
    "Егоров",
    "Жуков",
    "Зайцев",
    "Ильин",
    "Казаков",
    "Лебедев",
    "Морозов",
    "Никитин",
    "Орлов",
    "Павлов",
    "Романов",
]


def unlike(n: int, **kwargs: Any) -> Client:
    """A client whose name is like no other's made by this helper."""
    return ClientFactory(last_name=SURNAMES[n], first_name="", **kwargs)


def pairs(user: Any, limit: int = 50) -> list[tuple[int, int, list[str], list[str], float]]:
    return [
        (p.first.pk, p.second.pk, p.reasons, p.shared, p.score)
        for p in duplicate_pairs(user=user, limit=limit)
    ]


def test_clients_sharing_a_phone_or_an_e_mail_are_paired(dcs, management) -> None:
    dc_a, dc_b = dcs
    a = ClientFactory(
        last_name="Орлов",
        first_name="Иван",
        dealer_center=dc_a,
        phones=["+79123456789"],
        emails=["x@example.com"],
    )
    b = ClientFactory(
        last_name="Соколов", first_name="Пётр", dealer_center=dc_b, phones=["8 912 345 67 89"]
    )
    c = ClientFactory(
        last_name="Волков", first_name="Олег", dealer_center=None, emails=["X@Example.com"]
    )
    ClientFactory(last_name="Зайцев", first_name="Ян", phones=["+79000000000"])

    # Equally strong evidence: the pair with the newest client first.
    assert pairs(management) == [
        (a.pk, c.pk, ["email"], ["x@example.com"], 1.0),
        (a.pk, b.pk, ["phone"], ["+79123456789"], 1.0),
    ]


def test_namesakes_are_paired_in_one_dealer_center_or_when_one_left_no_phone(
    dcs, management
) -> None:
    dc_a, dc_b = dcs
    same_dc_1 = ClientFactory(
        last_name="Кузнецов", first_name="Илья", dealer_center=dc_a, phones=["+79000000001"]
    )
    same_dc_2 = ClientFactory(
        last_name="Кузнецов", first_name="Илья", dealer_center=dc_a, phones=["+79000000002"]
    )
    # Namesakes in two dealer centers, both with (different) phones: two people.
    ClientFactory(
        last_name="Попов", first_name="Кирилл", dealer_center=dc_a, phones=["+79000000003"]
    )
    ClientFactory(
        last_name="Попов", first_name="Кирилл", dealer_center=dc_b, phones=["+79000000004"]
    )
    # One of them without a phone: may be the same person.
    with_phone = ClientFactory(
        last_name="Лебедев", first_name="Артём", dealer_center=dc_a, phones=["+79000000005"]
    )
    without = ClientFactory(last_name="Лебедев", first_name="Артём", dealer_center=dc_b)

    assert pairs(management) == [
        (with_phone.pk, without.pk, ["name"], [], 1.0),
        (same_dc_1.pk, same_dc_2.pk, ["name"], [], 1.0),
    ]


def test_similar_names_in_one_dealer_center_are_paired_with_their_score(dcs, management) -> None:
    dc_a, dc_b = dcs
    a = ClientFactory(last_name="Константинопольский", first_name="Пётр", dealer_center=dc_a)
    b = ClientFactory(last_name="Константинопольскии", first_name="Петр", dealer_center=dc_a)
    # The same similarity across dealer centers is not looked for.
    ClientFactory(last_name="Александровский", first_name="Олег", dealer_center=dc_a)
    ClientFactory(last_name="Александровскии", first_name="Олег", dealer_center=dc_b)
    # The same first letters, but not alike enough.
    ClientFactory(last_name="Петров", first_name="Иван", dealer_center=dc_a)
    ClientFactory(last_name="Петренко", first_name="Ольга", dealer_center=dc_a)

    assert pairs(management) == [(a.pk, b.pk, ["similar_name"], [], 0.917)]


def test_pairs_are_within_the_users_scope_and_merged_clients_drop_out(dcs) -> None:
    dc_a, dc_b = dcs
    head_a = UserFactory(roles=[RoleCode.HEAD], dealer_centers=[dc_a])
    own = unlike(0, dealer_center=dc_a, phones=["+79000000001"])
    unrouted = unlike(1, dealer_center=None, phones=["+79000000001"])
    unlike(2, dealer_center=dc_b, phones=["+79000000001"])
    other_1 = unlike(3, dealer_center=dc_b, emails=["b@example.com"])
    unlike(4, dealer_center=dc_b, emails=["b@example.com"])

    assert pairs(head_a) == [(own.pk, unrouted.pk, ["phone"], ["+79000000001"], 1.0)]

    client_merge(survivor=own, other=unrouted)
    assert pairs(head_a) == []
    assert other_1.pk not in {pk for pair in pairs(head_a) for pk in pair[:2]}


def test_a_number_shared_by_a_crowd_is_not_a_duplicate(management) -> None:
    for n in range(MAX_GROUP_SIZE + 1):
        unlike(n, phones=["+74950000000"])  # a company switchboard

    assert pairs(management) == []


def test_the_number_of_pairs_is_bounded(management) -> None:
    for n in range(5):
        unlike(2 * n, phones=[f"+7900000000{n}"])
        unlike(2 * n + 1, phones=[f"+7900000000{n}"])

    assert len(pairs(management, limit=3)) == 3
    assert len(pairs(management)) == 5


# --- screens -----------------------------------------------------------------------------


@pytest.fixture
def twins(dcs) -> tuple[Client, Client]:
    dc_a, _ = dcs
    older = ClientFactory(
        last_name="Смирнова",
        first_name="Анна",
        dealer_center=dc_a,
        phones=["+79123456789"],
        emails=["anna@example.com"],
    )
    newer = ClientFactory(
        last_name="Смирнова",
        first_name="Анна",
        dealer_center=None,
        phones=["+7 912 345-67-89", "+79000000002"],
    )
    channel = Channel.objects.create(kind="telegram", name="Бот")
    conversation = Conversation.objects.create(channel=channel, client=newer, external_thread="1")
    Message.objects.create(
        conversation=conversation,
        client=newer,
        channel=channel,
        direction="in",
        text="Добрый день",
        status="received",
    )
    return older, newer


def test_the_duplicates_screen_lists_pairs_with_a_merge_button(client, dcs, twins) -> None:
    older, newer = twins
    client.force_login(UserFactory(roles=[RoleCode.HEAD], dealer_centers=[dcs[0]]))

    response = client.get("/clients/duplicates/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-pair="{older.pk}-{newer.pk}"' in html
    assert html.count(">Смирнова Анна</a>") == 2
    assert "+79000000002" in html
    assert "anna@example.com" in html
    assert f'href="/clients/{older.pk}/merge/{newer.pk}/"' in html
    assert 'data-reason="phone"' in html
    # Same name too, but in two dealer centers and both with phones: not a reason.
    assert 'data-reason="name"' not in html
    assert timezone.localtime(older.created_at).strftime("%Y") in html


@pytest.mark.parametrize("role", [RoleCode.SALES_MANAGER, RoleCode.LOGISTICIAN])
def test_only_those_who_may_merge_see_the_screens(client, dcs, twins, role) -> None:
    older, newer = twins
    client.force_login(UserFactory(roles=[role], dealer_centers=[dcs[0]]))

    assert client.get("/clients/duplicates/").status_code == 403
    assert client.get(f"/clients/{older.pk}/merge/{newer.pk}/").status_code == 403
    assert (
        client.post(f"/clients/{older.pk}/merge/{newer.pk}/", {"survivor": older.pk}).status_code
        == 403
    )
    assert ClientMerge.objects.count() == 0


def test_anonymous_users_are_sent_to_log_in(client, twins) -> None:
    response = client.get("/clients/duplicates/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_confirmation_defaults_to_the_older_client(client, management, twins) -> None:
    older, newer = twins
    client.force_login(management)

    response = client.get(f"/clients/{newer.pk}/merge/{older.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{older.pk}" id="survivor-{older.pk}" checked' in html
    assert f'value="{newer.pk}" id="survivor-{newer.pk}">' in html
    assert "csrfmiddlewaretoken" in html
    assert html.count('<span data-history="communications.message">') == 1
    assert ": 1</span>" in html.split('data-history="communications.message">')[1][:80]


def test_merging_from_the_screen_redirects_to_the_survivors_card(management, twins) -> None:
    older, newer = twins
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(management)
    url = f"/clients/{older.pk}/merge/{newer.pk}/"
    token = browser.get(url).cookies["csrftoken"].value

    without_token = browser.post(url, {"survivor": newer.pk})
    assert without_token.status_code == 403
    assert ClientMerge.objects.count() == 0

    response = browser.post(url, {"survivor": newer.pk, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == f"/clients/{newer.pk}/"
    merge = ClientMerge.objects.get()
    assert (merge.survivor_id, merge.merged_id, merge.merged_by) == (newer.pk, older.pk, management)
    assert Message.objects.get().client_id == newer.pk
    assert sorted(newer.phones.values_list("number", flat=True)) == [
        "+79000000002",
        "+79123456789",
    ]


def test_a_bad_choice_or_a_second_merge_changes_nothing(client, management, twins) -> None:
    older, newer = twins
    stranger = ClientFactory(last_name="Чужой", first_name="")
    client.force_login(management)
    url = f"/clients/{older.pk}/merge/{newer.pk}/"

    bad = client.post(url, {"survivor": stranger.pk})
    assert bad.status_code == 400
    assert 'id="merge-error"' in bad.content.decode()
    assert ClientMerge.objects.count() == 0

    assert client.post(url, {"survivor": older.pk}).status_code == 302
    again = client.post(url, {"survivor": older.pk})
    assert again.status_code == 400
    assert 'id="merge-already"' in again.content.decode()
    assert ClientMerge.objects.count() == 1


def test_clients_out_of_scope_are_not_found(client, dcs, twins) -> None:
    older, newer = twins
    head_b = UserFactory(roles=[RoleCode.HEAD], dealer_centers=[dcs[1]])
    client.force_login(head_b)

    assert client.get(f"/clients/{older.pk}/merge/{newer.pk}/").status_code == 404
    assert (
        client.post(f"/clients/{older.pk}/merge/{newer.pk}/", {"survivor": newer.pk}).status_code
        == 404
    )
    assert client.get(f"/clients/{older.pk}/merge/{older.pk}/").status_code == 404
    assert ClientMerge.objects.count() == 0
