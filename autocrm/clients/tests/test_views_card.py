"""The client card, its timeline parts, the client list and find-before-create."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client, ClientIdentity, Consent
from autocrm.clients.services import client_create, client_merge, consent_record
from autocrm.clients.tests.factories import ClientFactory
from autocrm.clients.tests.test_timeline import call, channels, form, message, visit
from autocrm.clients.timeline import client_timeline

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="Север")
    dc_b = DealerCenterFactory.create(name="Юг")
    manager = UserFactory.create(
        username="sales_a",
        first_name="Иван",
        last_name="Петров",
        roles=["sales_manager"],
        dealer_centers=[dc_a],
    )
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        "sales_a": manager,
        "sales_b": UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_b]),
        "logistician": UserFactory.create(roles=["logistician"], dealer_centers=[dc_a]),
    }


def card_client(world: dict[str, Any]) -> Client:
    person = client_create(
        last_name="Смирнова",
        first_name="Анна",
        phones=["8 (912) 345-67-89"],
        emails=["Anna@Example.RU"],
        dealer_center_id=world["dc_a"].pk,
        responsible_id=world["sales_a"].pk,
        consents={"personal_data": True},
        consent_source="webform:7",
    )
    ClientIdentity.objects.create(
        client=person, kind="telegram", external_id="5001", username="annas"
    )
    return person


def test_card_header_shows_contacts_consents_manager_and_dealer_center(
    client: Any, world: dict[str, Any]
) -> None:
    person = card_client(world)
    consent_record(client=person, purpose="marketing", granted=True, source="visit")
    consent_record(client=person, purpose="marketing", granted=False, source="telegram")
    client.force_login(world["sales_a"])

    response = client.get(f"/clients/{person.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Смирнова Анна" in html
    assert 'href="tel:+79123456789">+7 912 345-67-89</a>' in html
    assert "anna@example.ru" in html
    assert "@annas" in html
    personal = re.search(r'data-consent="personal_data" data-granted="(\w+)"', html)
    marketing = re.search(r'data-consent="marketing" data-granted="(\w+)"', html)
    assert (personal and personal.group(1), marketing and marketing.group(1)) == ("yes", "no")
    assert "webform:7" in html
    assert 'id="client-responsible">Петров Иван</dd>' in html
    assert 'id="client-dealer-center">Север</dd>' in html
    # The reply box is loaded by htmx from the communications app.
    assert f'hx-get="/communications/clients/{person.pk}/reply/"' in html


def test_customer_text_is_always_escaped(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)
    person.first_name = XSS
    person.save()
    ClientIdentity.objects.filter(client=person).update(display_name=XSS)
    ch = channels()
    now = timezone.now()
    message(person, ch["telegram"], now, text=XSS + "\nвторая строка", subject=XSS)
    form(person, ch["webform"], now, topic=XSS, message=XSS, utm={"utm_source": XSS})
    visit(person, now, note=XSS)
    client.force_login(world["sales_a"])

    html = client.get(f"/clients/{person.pk}/").content.decode()

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    # linebreaksbr after escaping: the newline becomes <br>, the markup stays text.
    assert "&lt;img src=x onerror=alert(1)&gt;<br>вторая строка" in html


def test_card_obeys_the_csp_no_inline_scripts_handlers_or_styles(
    client: Any, world: dict[str, Any]
) -> None:
    person = card_client(world)
    message(person, channels()["telegram"], timezone.now(), text="Здравствуйте")
    client.force_login(world["sales_a"])

    html = client.get(f"/clients/{person.pk}/").content.decode()

    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.findall(r"\son[a-z]+=", html) == []
    assert " style=" not in html


def test_card_of_another_dealer_centers_client_is_not_found(
    client: Any, world: dict[str, Any]
) -> None:
    person = card_client(world)
    client.force_login(world["sales_b"])

    assert client.get(f"/clients/{person.pk}/").status_code == 404
    assert client.get(f"/clients/{person.pk}/timeline/").status_code == 404
    assert client.get("/clients/999999/").status_code == 404


def test_card_needs_the_client_permission(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)
    client.force_login(world["logistician"])

    assert client.get(f"/clients/{person.pk}/").status_code == 403


def test_anonymous_is_sent_to_login(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)

    response = client.get(f"/clients/{person.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_merged_clients_card_redirects_to_the_survivor(
    client: Any, world: dict[str, Any]
) -> None:
    survivor = card_client(world)
    merged = ClientFactory.create(dealer_center=world["dc_a"])
    client_merge(survivor=survivor, other=merged)
    client.force_login(world["sales_a"])

    response = client.get(f"/clients/{merged.pk}/")

    assert response.status_code == 302
    assert response["Location"] == f"/clients/{survivor.pk}/"
    part = client.get(f"/clients/{merged.pk}/timeline/", headers={"HX-Request": "true"})
    assert part["HX-Redirect"] == f"/clients/{survivor.pk}/"


def test_timeline_shows_calls_with_recording_and_pages_with_show_earlier(
    client: Any, world: dict[str, Any]
) -> None:
    person = card_client(world)
    ch = channels()
    start = timezone.now() - timedelta(hours=1)
    for minute in range(35):
        message(person, ch["telegram"], start + timedelta(minutes=minute), text=f"m{minute}")
    call(
        person,
        ch["telephony"],
        start + timedelta(minutes=40),
        duration_seconds=61,
        recording_url="https://pbx.example/rec/1.mp3",
    )
    client.force_login(world["sales_a"])

    html = client.get(f"/clients/{person.pk}/").content.decode()

    assert 'href="https://pbx.example/rec/1.mp3"' in html
    assert html.count('class="list-group-item client-timeline-item') == 30
    before = re.search(r'data-before="([^"]+)"', html)
    assert before is not None
    _, expected_before = client_timeline(client=person)
    assert before.group(1) == expected_before

    part = client.get(
        f"/clients/{person.pk}/timeline/",
        {"before": before.group(1)},
        headers={"HX-Request": "true"},
    ).content.decode()

    texts = re.findall(r"data-text>(m\d+)</div>", part)
    assert texts == [f"m{minute}" for minute in range(5, -1, -1)]
    assert 'id="timeline-more"' not in part  # the last page


def test_timeline_part_refuses_a_bad_cursor(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)
    client.force_login(world["sales_a"])

    response = client.get(f"/clients/{person.pk}/timeline/", {"before": "%%%"})

    assert response.status_code == 400
    response = client.get(f"/clients/{person.pk}/timeline/", {"after": "%%%"})
    assert response.status_code == 400


def test_polling_brings_only_new_items(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)
    ch = channels()
    now = timezone.now()
    message(person, ch["telegram"], now - timedelta(minutes=1), text="old")
    client.force_login(world["sales_a"])
    html = client.get(f"/clients/{person.pk}/").content.decode()
    poll = re.search(r'id="timeline-poll"[^>]*hx-get="([^"]+)"', html)
    assert poll is not None
    poll_url = poll.group(1).replace("&amp;", "&")
    assert 'hx-trigger="every 3s"' in html

    nothing = client.get(poll_url, headers={"HX-Request": "true"}).content.decode()
    assert "data-text>" not in nothing
    assert f'hx-get="{poll.group(1)}"' in nothing  # the same position again

    message(person, ch["telegram"], now, text="new one")
    fresh = client.get(poll_url, headers={"HX-Request": "true"}).content.decode()
    assert re.findall(r"data-text>([^<]+)</div>", fresh) == ["new one"]
    moved = re.search(r'id="timeline-poll"[^>]*hx-get="([^"]+)"', fresh)
    assert moved is not None
    assert moved.group(1) != poll.group(1)


def test_polling_an_empty_timeline_removes_the_empty_notice(
    client: Any, world: dict[str, Any]
) -> None:
    person = card_client(world)
    client.force_login(world["sales_a"])
    html = client.get(f"/clients/{person.pk}/").content.decode()
    assert 'id="timeline-empty"' in html
    message(person, channels()["telegram"], timezone.now(), text="first")

    fresh = client.get(
        f"/clients/{person.pk}/timeline/", {"after": ""}, headers={"HX-Request": "true"}
    ).content.decode()

    assert "data-text>first</div>" in fresh
    assert '<li id="timeline-empty" hx-swap-oob="delete"></li>' in fresh


# --- the list ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["+7 912 345 67 89", "89123456789", "79123456789", "ANNA@example.ru", "смирнова"]
)
def test_list_search_finds_by_phone_in_any_format_email_and_name(
    client: Any, world: dict[str, Any], query: str
) -> None:
    person = card_client(world)
    ClientFactory.create(dealer_center=world["dc_a"], last_name="Иванов")
    client.force_login(world["sales_a"])

    html = client.get("/clients/", {"q": query}).content.decode()

    assert re.findall(r'data-client="(\d+)"', html) == [str(person.pk)]


def test_list_shows_only_visible_unmerged_clients(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)
    ClientFactory.create(dealer_center=world["dc_b"])
    merged = ClientFactory.create(dealer_center=world["dc_a"])
    client_merge(survivor=person, other=merged)
    client.force_login(world["sales_a"])

    html = client.get("/clients/").content.decode()

    assert re.findall(r'data-client="(\d+)"', html) == [str(person.pk)]


# --- creation ----------------------------------------------------------------------------


def test_create_finds_the_existing_client_first(client: Any, world: dict[str, Any]) -> None:
    person = card_client(world)
    client.force_login(world["sales_a"])
    form_data = {"kind": "person", "first_name": "Анна", "phone": "+7 (912) 345-67-89"}

    response = client.post("/clients/new/", form_data)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/clients/{person.pk}/"' in html
    assert 'id="client-create-anyway"' in html
    assert Client.objects.count() == 1

    response = client.post("/clients/new/", {**form_data, "confirm_duplicate": "on"})

    assert response.status_code == 302
    created = Client.objects.exclude(pk=person.pk).get()
    assert response["Location"] == f"/clients/{created.pk}/"
    assert list(created.phones.values_list("number", flat=True)) == ["+79123456789"]


def test_create_warns_of_a_match_outside_the_users_dealer_centers(
    client: Any, world: dict[str, Any]
) -> None:
    person = card_client(world)
    client.force_login(world["sales_b"])

    response = client.post("/clients/new/", {"kind": "person", "email": "anna@EXAMPLE.ru"})

    html = response.content.decode()
    assert 'id="client-create-anyway"' in html
    assert f"/clients/{person.pk}/" not in html
    assert "Смирнова" not in html
    assert Client.objects.count() == 1


def test_create_records_contacts_consents_and_responsible(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["sales_a"])

    response = client.post(
        "/clients/new/",
        {
            "kind": "person",
            "last_name": "Орлов",
            "first_name": "Олег",
            "phone": "8 912 000-11-22",
            "email": "Oleg@Mail.RU",
            "dealer_center": str(world["dc_a"].pk),
            "responsible_me": "on",
            "consent_personal_data": "on",
        },
    )

    person = Client.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/clients/{person.pk}/"
    assert (person.display_name, person.dealer_center_id, person.responsible_id) == (
        "Орлов Олег",
        world["dc_a"].pk,
        world["sales_a"].pk,
    )
    assert list(person.phones.values_list("number", flat=True)) == ["+79120001122"]
    assert list(person.emails.values_list("address", flat=True)) == ["oleg@mail.ru"]
    assert list(Consent.objects.values_list("purpose", "granted", "source")) == [
        ("personal_data", True, "manual")
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "person", "phone": "12"}, "phone"),
        ({"kind": "person", "email": "not-an-address"}, "email"),
        ({"kind": "company", "phone": "+79120001122"}, "company_name"),
        ({"kind": "person"}, None),
    ],
)
def test_create_shows_errors_and_stores_nothing(
    client: Any, world: dict[str, Any], data: dict[str, str], field: str | None
) -> None:
    client.force_login(world["sales_a"])

    response = client.post("/clients/new/", data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert (field or "__all__") in errors
    assert Client.objects.count() == 0
