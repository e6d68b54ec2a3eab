from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from autocrm.accounts.scoping import scope_queryset
from autocrm.clients.models import Client


def client_list(*, user: Any) -> QuerySet[Client]:
    """Clients of the dealer centers the user sees, plus clients not yet routed anywhere."""
    return scope_queryset(Client.objects.all(), user, include_unassigned=True)
