"""Who may register showroom visits and read the requests list.

Which requests a user sees is scoping's job (``sales.selectors``).
"""

from __future__ import annotations

import rules

from autocrm.accounts.roles import RoleCode
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

rules.add_perm("sales.register_visit", can_register_visits)
rules.add_perm("sales.view_requests", can_view_requests)

grant_model_permissions("sales", is_administrator)
