"""Who may keep the financial-products catalog. Adding products to an order is selling
(``orders.sell``)."""

from __future__ import annotations

import rules

from autocrm.accounts.rules import grant_model_permissions, is_administrator
from autocrm.orders.rules import can_supervise

rules.add_perm("finance.manage_products", can_supervise)

grant_model_permissions("finance", is_administrator)
