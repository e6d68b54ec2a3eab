"""API token lifecycle: issue with the command, use, record the use, revoke, expire."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from autocrm.accounts.models import ApiToken
from autocrm.accounts.services import api_token_authenticate
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A settable clock for everything that calls django.utils.timezone.now()."""

    class Clock:
        now = NOW

        def set(self, moment: datetime) -> None:
            self.now = moment

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def sales_manager() -> Any:
    dealer_center = DealerCenterFactory.create(name="Murmansk Haval")
    return UserFactory.create(
        username="ivanov", roles=["sales_manager"], dealer_centers=[dealer_center]
    )


def create_token(*args: str) -> tuple[str, list[str]]:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    lines = out.getvalue().splitlines()
    return lines[-1], lines


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_command_prints_the_token_last_and_stores_only_its_digest(
    clock: Any, sales_manager: Any
) -> None:
    token, lines = create_token("ivanov", "--name", "website forms", "--expires-days", "30")

    record = ApiToken.objects.get()
    assert token.startswith("acrm_")
    assert len(token) == len("acrm_") + 43  # 32 random bytes, URL-safe base64
    assert record.user == sales_manager
    assert record.name == "website forms"
    assert record.prefix == token[:11]
    assert record.digest == hashlib.sha256(token.encode()).hexdigest()
    assert record.expires_at == NOW + timedelta(days=30)
    assert record.last_used_at is None
    assert record.revoked_at is None
    # The secret itself is nowhere in the row, nor in its history.
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    stored += [str(value) for row in record.history.values() for value in row.values()]
    assert not any(token in value for value in stored)
    assert len(lines) == 2
    assert token not in lines[0]
    assert lines[0].startswith(f"Token {record.prefix}… for ivanov (expires 2025-04-13")


def test_a_fresh_token_authenticates_and_records_its_use(
    client: Any, clock: Any, sales_manager: Any
) -> None:
    token, _ = create_token("ivanov")

    response = client.get("/api/v1/me", **bearer(token))

    assert response.status_code == 200
    assert response.json() == {
        "id": sales_manager.pk,
        "username": "ivanov",
        "display_name": sales_manager.display_name,
        "email": "ivanov@example.com",
        "roles": ["sales_manager"],
        "is_group_level": False,
        "dealer_centers": [{"id": sales_manager.dealer_centers.get().pk, "name": "Murmansk Haval"}],
    }
    assert ApiToken.objects.get().last_used_at == NOW


def test_last_use_is_written_at_most_once_a_minute(clock: Any, sales_manager: Any) -> None:
    token, _ = create_token("ivanov")
    assert api_token_authenticate(token) == sales_manager

    clock.set(NOW + timedelta(seconds=59))
    assert api_token_authenticate(token) == sales_manager
    assert ApiToken.objects.get().last_used_at == NOW

    clock.set(NOW + timedelta(minutes=2))
    assert api_token_authenticate(token) == sales_manager
    assert ApiToken.objects.get().last_used_at == NOW + timedelta(minutes=2)


def test_revoked_token_is_refused(client: Any, clock: Any, sales_manager: Any) -> None:
    token, _ = create_token("ivanov")
    record = ApiToken.objects.get()
    out = StringIO()

    call_command("revoke_api_token", record.prefix, stdout=out)

    assert out.getvalue() == f"Revoked 1 token(s) with prefix {record.prefix}.\n"
    record.refresh_from_db()
    assert record.revoked_at == NOW
    response = client.get("/api/v1/me", **bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")


def test_revoke_accepts_the_whole_token_and_leaves_other_tokens_alone(
    clock: Any, sales_manager: Any
) -> None:
    kept, _ = create_token("ivanov", "--name", "kept")
    revoked, _ = create_token("ivanov", "--name", "revoked")

    call_command("revoke_api_token", revoked, stdout=StringIO())

    assert dict(ApiToken.objects.values_list("name", "revoked_at")) == {
        "kept": None,
        "revoked": NOW,
    }
    assert api_token_authenticate(kept) == sales_manager
    assert api_token_authenticate(revoked) is None


@pytest.mark.parametrize("prefix", ["acrm_nope00", "", "acrm_" + "x" * 43])
def test_revoking_an_unknown_prefix_fails_and_changes_nothing(
    clock: Any, sales_manager: Any, prefix: str
) -> None:
    create_token("ivanov")

    with pytest.raises(CommandError, match="No active token with this prefix"):
        call_command("revoke_api_token", prefix, stdout=StringIO())

    assert ApiToken.objects.get().revoked_at is None


def test_revoking_twice_fails_the_second_time(clock: Any, sales_manager: Any) -> None:
    create_token("ivanov")
    prefix = ApiToken.objects.get().prefix
    call_command("revoke_api_token", prefix, stdout=StringIO())
    clock.set(NOW + timedelta(hours=1))

    with pytest.raises(CommandError):
        call_command("revoke_api_token", prefix, stdout=StringIO())

    assert ApiToken.objects.get().revoked_at == NOW


def test_the_admin_action_revokes(client: Any, clock: Any, sales_manager: Any) -> None:
    token, _ = create_token("ivanov")
    record = ApiToken.objects.get()
    admin = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [record.pk]}
    )

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.revoked_at == NOW
    client.logout()
    assert client.get("/api/v1/me", **bearer(token)).status_code == 401


def test_an_expired_token_is_refused(client: Any, clock: Any, sales_manager: Any) -> None:
    token, _ = create_token("ivanov", "--expires-days", "1")
    assert client.get("/api/v1/me", **bearer(token)).status_code == 200

    clock.set(NOW + timedelta(days=1))

    assert client.get("/api/v1/me", **bearer(token)).status_code == 401
    assert ApiToken.objects.get().last_used_at == NOW


def test_a_deactivated_users_token_is_refused(client: Any, clock: Any, sales_manager: Any) -> None:
    token, _ = create_token("ivanov")
    sales_manager.is_active = False
    sales_manager.save()

    response = client.get("/api/v1/me", **bearer(token))

    assert response.status_code == 401
    assert ApiToken.objects.get().last_used_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No user named 'nobody'."),
        (["ivanov", "--expires-days", "0"], "--expires-days: must be between 1 and 3650."),
        (["ivanov", "--expires-days", "-5"], "--expires-days: must be between 1 and 3650."),
        (["ivanov", "--expires-days", "3651"], "--expires-days: must be between 1 and 3650."),
        (["ivanov", "--name", "n" * 101], "--name: at most 100 characters."),
    ],
)
def test_the_command_refuses_bad_input_and_creates_nothing(
    clock: Any, sales_manager: Any, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError) as error:
        call_command("create_api_token", *args, stdout=StringIO())

    assert str(error.value) == message
    assert ApiToken.objects.count() == 0


def test_no_token_for_an_inactive_user(clock: Any) -> None:
    UserFactory.create(username="gone", is_active=False)

    with pytest.raises(CommandError, match=r"Cannot issue a token to an inactive user\."):
        call_command("create_api_token", "gone", stdout=StringIO())

    assert ApiToken.objects.count() == 0


def test_tokens_that_cannot_be_ours_are_refused_without_a_query(
    django_assert_num_queries: Any, sales_manager: Any
) -> None:
    with django_assert_num_queries(0):
        assert api_token_authenticate("not-a-token") is None
        assert api_token_authenticate("acrm_" + "a" * 300) is None
