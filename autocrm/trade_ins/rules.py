"""Who may do what with trade-ins. Which trade-ins a user sees is scoping's job
(``trade_ins.selectors``: the trade-in's dealer center)."""

from __future__ import annotations

import rules

from autocrm.accounts.roles import SUPERVISING_ROLES, RoleCode
from autocrm.accounts.rules import grant_model_permissions, has_role, is_administrator
from autocrm.orders.rules import can_sell, can_view_orders

# Appraisers of the buy-out department inspect and value the cars; heads may step in.
can_appraise = has_role(RoleCode.APPRAISER, *SUPERVISING_ROLES)
# The calendar: appraisers (their own), heads, and the sales floor (to pick a time).
can_view_calendar = has_role(RoleCode.APPRAISER, RoleCode.SALES_MANAGER, *SUPERVISING_ROLES)

rules.add_perm("trade_ins.view_trade_ins", can_view_orders)
# Booking an inspection is part of selling: whoever may sell (orders.sell).
rules.add_perm("trade_ins.book", can_sell)
# Moving or calling off an inspection: the manager or the appraiser who talks to the client.
rules.add_perm("trade_ins.reschedule", can_sell | can_appraise)
rules.add_perm("trade_ins.appraise", can_appraise)
# Taking the offer changes the order's money: the sales floor.
rules.add_perm("trade_ins.accept", can_sell)
rules.add_perm("trade_ins.decline", can_sell | can_appraise)
rules.add_perm("trade_ins.take_into_stock", can_appraise)
rules.add_perm("trade_ins.view_calendar", can_view_calendar)
rules.add_perm("trade_ins.view_free_slots", can_sell | can_view_calendar)

grant_model_permissions("trade_ins", is_administrator)
