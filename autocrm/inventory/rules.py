"""Who may do what with the stock. Which cars a user sees is scoping's job."""

from __future__ import annotations

import rules

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.rules import (
    grant_model_permissions,
    has_role,
    is_administrator,
    is_authenticated,
)

can_sell = has_role(
    RoleCode.SALES_MANAGER, RoleCode.HEAD, RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR
)
can_manage_stock = has_role(RoleCode.LOGISTICIAN, RoleCode.HEAD, RoleCode.ADMINISTRATOR)
can_inspect = has_role(RoleCode.APPRAISER, RoleCode.SERVICE, RoleCode.ADMINISTRATOR)
can_manage_restrictions = has_role(RoleCode.LOGISTICIAN, RoleCode.LAWYER, RoleCode.ADMINISTRATOR)

rules.add_perm("inventory.search_stock", is_authenticated)
rules.add_perm("inventory.reserve_vehicle", can_sell)
rules.add_perm("inventory.edit_vehicle", can_manage_stock)
rules.add_perm("inventory.import_stock", can_manage_stock)
rules.add_perm("inventory.change_logistics_status", can_manage_stock)
rules.add_perm("inventory.record_inspection", can_inspect)
rules.add_perm("inventory.manage_restrictions", can_manage_restrictions)

grant_model_permissions("inventory", is_administrator)
