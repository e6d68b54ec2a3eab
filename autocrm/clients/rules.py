"""Client permissions; which clients a user sees is scoping's job."""

from __future__ import annotations

from autocrm.accounts.rules import grant_model_permissions, is_administrator

grant_model_permissions("clients", is_administrator)
