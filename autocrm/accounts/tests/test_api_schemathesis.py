"""Property-based calls generated from the API's own OpenAPI schema: never a 5xx.

schemathesis drives the WSGI application in-process (no server, no network) with
generated paths, query strings and headers, as a named user with wide access.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, SiteFactory, UserFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def keep_test_connection() -> Any:
    # The WSGI handler closes "old" database connections when a request ends; inside a
    # test that would close the connection holding the test's transaction. Django's own
    # test client disconnects the same receivers for the same reason.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def administrator_token(db: Any) -> str:
    dealer_center = DealerCenterFactory.create()
    SiteFactory.create(dealer_center=dealer_center)
    administrator = UserFactory.create(username="fuzz-admin", roles=["administrator"])
    return api_token_create(actor=None, user=administrator).token


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors(case: Any, administrator_token: str, keep_test_connection: Any) -> None:
    response = case.call(headers={"Authorization": f"Bearer {administrator_token}"})

    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
    assert response.status_code < 500
    assert response.headers["content-type"] == ["application/json; charset=utf-8"]
