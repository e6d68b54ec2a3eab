"""Who may register showroom visits and read the requests list.

Which requests a user sees is scoping's job (``sales.selectors``).
"""

from __future__ import annotations

import rules

from autocrm.accounts.roles import SUPERVISING_ROLES, RoleCode
from autocrm.accounts.rules import grant_model_permissions, has_role, is_administrator

# The hostess at the showroom entrance, and those responsible for the showroom.
can_register_visits = has_role(RoleCode.HOSTESS, RoleCode.HEAD, RoleCode.ADMINISTRATOR)
# Everybody who works requests: the contact center routes them, the sales floor works
# them, heads and management watch them.
can_view_requests = has_role(
    RoleCode.OPERATOR,
    RoleCode.SALES_MANAGER,
    RoleCode.HEAD,
    RoleCode.MANAGEMENT,
    RoleCode.ADMINISTRATOR,
)

# Heads watch execution: overdue tasks, idle deals and SLAs of their dealer centers.
can_view_control = has_role(*SUPERVISING_ROLES)
# Everybody on the staff has tasks: operators' call-backs, managers', appraisers', lawyers'.
can_have_tasks = rules.is_authenticated & rules.is_active

rules.add_perm("sales.register_visit", can_register_visits)
rules.add_perm("sales.view_requests", can_view_requests)
rules.add_perm("sales.view_deals", can_view_requests)
rules.add_perm("sales.view_control", can_view_control)
rules.add_perm("sales.view_tasks", can_have_tasks)

grant_model_permissions("sales", is_administrator)
