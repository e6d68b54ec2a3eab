"""Click-to-call on the client card and the notifications bell/page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import ClientPhone
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Notification
from autocrm.communications.services import channel_create, notification_create
from simulators import pbx as pbx_simulator

pytestmark = pytest.mark.django_db

SECRET = "pbx-signing-secret"


@pytest.fixture
def pbx() -> Iterator[pbx_simulator.PbxHandle]:
    handle = pbx_simulator.start(signing_secret=SECRET, event_delay=0.01)
    yield handle
    handle.stop()


def test_call_button_dials_through_the_pbx(client, pbx):
    dealer_center = DealerCenterFactory()
    channel_create(
        kind="telephony",
        name="АТС",
        dealer_center_id=dealer_center.pk,
        settings={"signing_secret": SECRET, "api_base_url": pbx.url},
    )
    manager = UserFactory(roles=["sales_manager"], dealer_centers=[dealer_center])
    manager.phone_extension = "204"
    manager.save(update_fields=["phone_extension"])
    person = ClientFactory(dealer_center=dealer_center)
    ClientPhone.objects.create(client=person, number="+79123456789", is_primary=True)
    client.force_login(manager)
    url = f"/communications/clients/{person.pk}/call/"

    panel = client.get(url)
    assert panel.status_code == 200
    assert 'data-call="+79123456789"' in panel.content.decode()

    dialled = client.post(url, {"number": "+79123456789"}, headers={"HX-Request": "true"})
    assert dialled.status_code == 200
    assert 'id="call-dialled"' in dialled.content.decode()
    assert [(o["extension"], o["number"]) for o in pbx.originates] == [("204", "+79123456789")]


def test_call_panel_explains_what_is_missing_and_hides_foreign_clients(client):
    own, foreign = DealerCenterFactory(), DealerCenterFactory()
    manager = UserFactory(roles=["sales_manager"], dealer_centers=[own])
    client.force_login(manager)
    mine = ClientFactory(dealer_center=own)
    assert (
        'id="call-unavailable"'
        in client.get(f"/communications/clients/{mine.pk}/call/").content.decode()
    )
    assert (
        client.get(
            f"/communications/clients/{ClientFactory(dealer_center=foreign).pk}/call/"
        ).status_code
        == 404
    )


def test_bell_counts_unread_and_the_page_marks_them_read(client):
    manager, other = UserFactory(roles=["sales_manager"]), UserFactory(roles=["sales_manager"])
    notification_create(user=manager, text="Клиент <b>ждёт</b> в шоуруме", url="/clients/1/")
    notification_create(user=manager, text="Второе")
    notification_create(user=other, text="Чужое")
    client.force_login(manager)

    assert (
        'id="notification-count">2<'
        in client.get("/communications/notifications/bell/").content.decode()
    )
    page = client.get("/communications/notifications/").content.decode()
    assert "Клиент &lt;b&gt;ждёт&lt;/b&gt; в шоуруме" in page
    assert "Чужое" not in page
    assert Notification.objects.filter(user=manager, read_at__isnull=True).count() == 0
    assert (
        'id="notification-count"'
        not in client.get("/communications/notifications/bell/").content.decode()
    )
