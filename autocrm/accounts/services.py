"""Writes of the accounts app: users, roles, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from autocrm.accounts.models import ApiToken, DealerCenter, Role, User
from autocrm.accounts.roles import RoleCode
from autocrm.core.audit import acting_user
from autocrm.core.errors import NotFound, ValidationFailed

TOKEN_PREFIX = "acrm_"  # noqa: S105 - a public marker, not a secret
# Stored in clear to tell tokens apart: "acrm_" and 6 random characters (36 bits), too
# few to help anyone guess the remaining 256 bits.
_PREFIX_LENGTH = len(TOKEN_PREFIX) + 6
# Touching last_used_at on every request would turn each API read into a write;
# once a minute is enough to tell a live integration from a dead one.
_LAST_USED_PRECISION = timedelta(minutes=1)


def _roles_from_codes(codes: Iterable[str]) -> list[Role]:
    codes = list(dict.fromkeys(codes))
    unknown = sorted(set(codes) - set(RoleCode.values))
    if unknown:
        raise ValidationFailed(f"Unknown role(s): {', '.join(unknown)}.", field="roles")
    roles = list(Role.objects.filter(code__in=codes))
    missing = set(codes) - {role.code for role in roles}
    for code in missing:  # the data migration creates roles; tolerate a database made without it
        roles.append(Role.objects.create(code=code))
    return roles


@transaction.atomic
def user_create(
    *,
    actor: Any,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    middle_name: str = "",
    email: str = "",
    roles: Iterable[str] = (),
    dealer_centers: Iterable[DealerCenter] = (),
    is_staff: bool | None = None,
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("A user with this username already exists.", field="username")
    role_objects = _roles_from_codes(roles)
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        middle_name=middle_name,
        email=email,
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationFailed(" ".join(error.messages), field="password") from None
    user.set_password(password)
    codes = {role.code for role in role_objects}
    user.is_staff = (RoleCode.ADMINISTRATOR in codes) if is_staff is None else is_staff
    with acting_user(actor):
        user.save()
        user.roles.set(role_objects)
        user.dealer_centers.set(list(dealer_centers))
    return user


@transaction.atomic
def user_set_roles(*, actor: Any, user: User, roles: Iterable[str]) -> User:
    role_objects = _roles_from_codes(roles)
    with acting_user(actor):
        user.roles.set(role_objects)
        user.is_staff = (
            any(role.code == RoleCode.ADMINISTRATOR for role in role_objects) or user.is_superuser
        )
        user.save(update_fields=["is_staff"])
    user.__dict__.pop("_role_codes", None)
    return user


@transaction.atomic
def user_set_dealer_centers(
    *, actor: Any, user: User, dealer_centers: Iterable[DealerCenter]
) -> User:
    with acting_user(actor):
        user.dealer_centers.set(list(dealer_centers))
        user.save(update_fields=[])  # no column changes; the m2m history row is written by set()
    user.__dict__.pop("_visible_dealer_center_ids", None)
    return user


_PROFILE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "middle_name",
        "email",
        "phone_extension",
        "department",
        "is_active",
        "is_superuser",
    }
)


@transaction.atomic
def user_update_profile(*, actor: Any, user: User, **changes: Any) -> list[str]:
    """Change profile fields; returns the names that actually changed (none: no history row)."""
    unknown = sorted(set(changes) - _PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Not a profile field: {', '.join(unknown)}.", field=unknown[0])
    changed = [name for name, value in changes.items() if getattr(user, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(user, name, changes[name])
    if user.is_superuser:
        user.is_staff = True
        changed.append("is_staff")
    with acting_user(actor):
        user.save(update_fields=sorted(set(changed)))
    return changed


@transaction.atomic
def user_set_password(*, actor: Any, user: User, password: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationFailed(" ".join(error.messages), field="password") from None
    user.set_password(password)
    user.save(update_fields=["password"])  # password is excluded from history on purpose


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: ApiToken


@transaction.atomic
def api_token_create(
    *, actor: Any, user: User, name: str = "", expires_at: datetime | None = None
) -> IssuedToken:
    if not user.is_active:
        raise ValidationFailed("Cannot issue a token to an inactive user.", field="user")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("Expiry must be in the future.", field="expires_at")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with acting_user(actor):
        record = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=token[:_PREFIX_LENGTH],
            digest=_digest(token),
            expires_at=expires_at,
        )
    return IssuedToken(token=token, record=record)


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        with acting_user(actor):
            token.save(update_fields=["revoked_at", "updated_at"])
    return token


def api_token_authenticate(token: str) -> User | None:
    """Return the active user a bearer token belongs to, or None. Records the use."""
    # Anything else cannot be one of ours: answer without touching the database.
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    record = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(token), revoked_at__isnull=True)
        .first()
    )
    if record is None or not record.user.is_active:
        return None
    now = timezone.now()
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if record.last_used_at is None or now - record.last_used_at > _LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record.user


@transaction.atomic
def api_token_revoke_by_prefix(*, actor: Any, prefix: str) -> int:
    """Revoke the active tokens starting with ``prefix`` (as listed in the admin).

    The whole token is accepted too, for whoever still has it at hand.
    """
    prefix = prefix.strip()
    if len(prefix) > _PREFIX_LENGTH:
        matching = ApiToken.objects.filter(digest=_digest(prefix))
    else:
        matching = ApiToken.objects.filter(prefix=prefix)
    tokens = list(matching.filter(revoked_at__isnull=True))
    if not prefix or not tokens:
        raise NotFound("No active token with this prefix.", field="prefix")
    for token in tokens:
        api_token_revoke(actor=actor, token=token)
    return len(tokens)
