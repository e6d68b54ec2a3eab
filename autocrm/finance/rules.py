"""Who may keep the financial-products catalog and the credit programs, and who reads the
personal data of credit applicants. Adding products and working credit applications is
selling (``orders.sell``)."""

from __future__ import annotations

import rules

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.rules import grant_model_permissions, has_role, is_administrator
from autocrm.orders.rules import can_supervise

rules.add_perm("finance.manage_products", can_supervise)
rules.add_perm("finance.manage_credit_programs", can_supervise)
# Passport numbers and addresses: the managers who fill questionnaires in and the lawyers
# who check the papers. Heads, management and administrators see them masked (they
# rarely need them, and every reading would be one more person with access).
rules.add_perm("finance.view_credit_pii", has_role(RoleCode.SALES_MANAGER, RoleCode.LAWYER))

grant_model_permissions("finance", is_administrator)
