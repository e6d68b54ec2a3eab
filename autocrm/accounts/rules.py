"""Permissions as ``rules`` predicates over roles. Row visibility is scoping's job."""

from __future__ import annotations

from typing import Any

import rules

from autocrm.accounts.roles import RoleCode


def has_role(*codes: str) -> Any:
    name = "has_role:" + ",".join(codes)

    @rules.predicate(name=name)
    def predicate(user: Any) -> bool:
        return bool(getattr(user, "is_authenticated", False)) and (
            user.is_superuser or user.has_role(*codes)
        )

    return predicate


is_authenticated = rules.is_authenticated & rules.is_active
is_administrator = has_role(RoleCode.ADMINISTRATOR)
is_head_or_management = has_role(RoleCode.HEAD, RoleCode.MANAGEMENT)
is_operator = has_role(RoleCode.OPERATOR)

# Reference lists of the group structure: every employee needs them (routing, stock search).
rules.add_perm("accounts.view_structure", is_authenticated)
# Staff directory: who works where, with roles - for routing and assigning work.
rules.add_perm("accounts.view_staff", is_administrator | is_head_or_management | is_operator)
# Changing the structure, users and roles.
rules.add_perm("accounts.manage_structure", is_administrator)
rules.add_perm("accounts.manage_users", is_administrator)
rules.add_perm("accounts.manage_api_tokens", is_administrator)
# Django admin access.
rules.add_perm("accounts.use_admin", is_administrator)


def grant_model_permissions(app_label: str, predicate: Any) -> None:
    """Give ``predicate`` the view/add/change/delete permissions on every model of an app.

    Django's admin asks for these; superusers have them anyway. Deriving the list from the
    app registry keeps it complete as models are added.
    """
    from django.apps import apps

    for model in apps.get_app_config(app_label).get_models():
        for action in ("view", "add", "change", "delete"):
            rules.add_perm(f"{app_label}.{action}_{model._meta.model_name}", predicate)


# Django admin model permissions for administrators.
grant_model_permissions("accounts", is_administrator)
