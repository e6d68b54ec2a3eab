"""POST /api/v1/calls/originate: click-to-call through the PBX simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import ClientPhone
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.services import channel_create
from simulators import pbx as pbx_simulator

pytestmark = pytest.mark.django_db

SECRET = "pbx-signing-secret"


@pytest.fixture
def pbx() -> Iterator[pbx_simulator.PbxHandle]:
    handle = pbx_simulator.start(signing_secret=SECRET, event_delay=0.01)
    yield handle
    handle.stop()


def _post(client, payload):
    return client.post(
        "/api/v1/calls/originate", data=json.dumps(payload), content_type="application/json"
    )


def test_originate_dials_the_clients_phone_from_the_callers_extension(client, pbx):
    dealer_center = DealerCenterFactory()
    channel_create(
        kind="telephony",
        name="АТС",
        dealer_center_id=dealer_center.pk,
        settings={"signing_secret": SECRET, "api_base_url": pbx.url},
    )
    operator = UserFactory(roles=["operator"])
    operator.phone_extension = "105"
    operator.save(update_fields=["phone_extension"])
    person = ClientFactory(dealer_center=dealer_center)
    ClientPhone.objects.create(client=person, number="+79123456789", is_primary=True)
    client.force_login(operator)

    response = _post(client, {"client_id": person.pk})

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["extension"], body["number"]) == ("105", "+79123456789")
    assert [(o["extension"], o["number"]) for o in pbx.originates] == [("105", "+79123456789")]


def test_originate_refusals_name_the_field(client, pbx):
    operator = UserFactory(roles=["operator"])
    client.force_login(operator)
    response = _post(client, {"number": "+79123456789"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "channel_id"

    channel_create(
        kind="telephony",
        name="АТС",
        settings={"signing_secret": SECRET, "api_base_url": pbx.url},
    )
    response = _post(client, {"number": "+79123456789"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "phone_extension"
    assert pbx.originates == []


def test_originate_needs_the_inbox_permission(client):
    client.force_login(UserFactory(roles=["appraiser"]))
    assert _post(client, {"number": "+79123456789"}).status_code == 403
