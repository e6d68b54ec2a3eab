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

# Django admin model permissions for administrators (superusers have them all anyway).
for _model in (
    "region",
    "city",
    "brand",
    "dealercenter",
    "workinghours",
    "site",
    "consignor",
    "department",
    "role",
    "user",
    "apitoken",
):
    for _action in ("view", "add", "change", "delete"):
        rules.add_perm(f"accounts.{_action}_{_model}", is_administrator)
