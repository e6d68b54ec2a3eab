"""Who may do what with sales orders. Which orders a user sees is scoping's job
(``orders.selectors``: the order's dealer center)."""

from __future__ import annotations

import rules

from autocrm.accounts.roles import SUPERVISING_ROLES, RoleCode
from autocrm.accounts.rules import grant_model_permissions, has_role, is_administrator

# The sales floor sells; heads, management and administrators watch and step in.
can_sell = has_role(RoleCode.SALES_MANAGER, *SUPERVISING_ROLES)
# Everybody whose work touches an order: service installs equipment, logistics brings the
# car, appraisers value trade-ins, lawyers check the documents.
can_view_orders = has_role(
    RoleCode.SALES_MANAGER,
    RoleCode.SERVICE,
    RoleCode.LOGISTICIAN,
    RoleCode.APPRAISER,
    RoleCode.LAWYER,
    *SUPERVISING_ROLES,
)
# Logisticians keep the promotions from the importers' bulletins.
can_manage_promotions = has_role(RoleCode.LOGISTICIAN, RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR)
# Service staff configure equipment packages and mark installations.
can_manage_equipment = has_role(RoleCode.SERVICE, *SUPERVISING_ROLES)
# Heads approve refunds and see the car's economics.
can_supervise = has_role(*SUPERVISING_ROLES)

rules.add_perm("orders.view_orders", can_view_orders)
rules.add_perm("orders.sell", can_sell)
rules.add_perm("orders.register_payments", can_sell)
rules.add_perm("orders.manage_promotions", can_manage_promotions)
rules.add_perm("orders.manage_equipment", can_manage_equipment)
rules.add_perm("orders.approve_refunds", can_supervise)
rules.add_perm("orders.view_deal_passport", can_supervise | has_role(RoleCode.LOGISTICIAN))

grant_model_permissions("orders", is_administrator)
