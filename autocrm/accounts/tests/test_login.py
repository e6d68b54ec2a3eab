"""Session login: lockout (django-axes), session rotation, CSRF."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import TEST_PASSWORD, DealerCenterFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def manager():
    return UserFactory(
        username="manager", roles=[RoleCode.SALES_MANAGER], dealer_centers=[DealerCenterFactory()]
    )


def _login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def test_login_with_correct_password_redirects_home(client, manager):
    response = _login(client, "manager", TEST_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    assert int(client.session["_auth_user_id"]) == manager.pk


def test_wrong_password_shows_the_form_again(client, manager):
    response = _login(client, "manager", "not-the-password")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert response.context["form"].errors


def test_session_key_is_rotated_at_login(client, manager):
    client.get(LOGIN)
    session = client.session
    session["probe"] = 1
    session.save()
    anonymous_key = client.cookies[settings.SESSION_COOKIE_NAME].value

    _login(client, "manager", TEST_PASSWORD)

    assert client.cookies[settings.SESSION_COOKIE_NAME].value != anonymous_key


def test_five_failures_lock_the_account_even_for_the_right_password(client, manager):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "manager", "wrong-password-123")

    locked = _login(client, "manager", TEST_PASSWORD)

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get(username="manager").failures_since_start >= 5


def test_lockout_is_per_username(client, manager):
    UserFactory(username="other")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "manager", "wrong-password-123")

    response = _login(client, "other", TEST_PASSWORD)

    assert response.status_code == 302


def test_success_resets_the_failure_counter(client, manager):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "manager", "wrong-password-123")
    assert _login(client, "manager", TEST_PASSWORD).status_code == 302
    client.post(reverse("logout"))

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "manager", "wrong-password-123")

    assert _login(client, "manager", TEST_PASSWORD).status_code == 302


def test_login_form_requires_csrf_token(manager):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(LOGIN, {"username": "manager", "password": TEST_PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session


def test_logout_requires_post_and_ends_the_session(client, manager):
    client.force_login(manager)

    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_pages_require_login(client):
    response = client.get(reverse("core:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
