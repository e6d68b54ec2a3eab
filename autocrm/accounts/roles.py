"""The roles of SPEC.md. Codes are stable identifiers used in rules and the API."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RoleCode(models.TextChoices):
    OPERATOR = "operator", _("Contact-center operator")
    HOSTESS = "hostess", _("Hostess")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    SERVICE = "service", _("Service staff")
    LOGISTICIAN = "logistician", _("Logistician")
    APPRAISER = "appraiser", _("Buy-out appraiser")
    LAWYER = "lawyer", _("Lawyer")
    HEAD = "head", _("Head of dealer center")
    MANAGEMENT = "management", _("Group management")
    ADMINISTRATOR = "administrator", _("Administrator")


# Roles whose holders see every dealer center of the group. The contact center is one
# central team that routes requests to all regional dealer centers, so operators are here.
GROUP_LEVEL_ROLES: frozenset[str] = frozenset(
    {RoleCode.OPERATOR, RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR}
)

# Roles that supervise a dealer center's work: reopen closed deals, act on anybody's
# tasks, watch execution.
SUPERVISING_ROLES: frozenset[str] = frozenset(
    {RoleCode.HEAD, RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR}
)
