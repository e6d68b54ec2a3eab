"""Who may configure channels and who may read and answer conversations.

Which conversations a user sees is scoping's job (``selectors``): the inbox roles below
open the door, the dealer centers attached to the user decide the rows.
"""

from __future__ import annotations

import rules

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.rules import grant_model_permissions, has_role, is_administrator

# Roles that read client conversations and answer them: the contact center, the sales
# floor and those responsible for them.
can_use_inbox = has_role(
    RoleCode.OPERATOR,
    RoleCode.SALES_MANAGER,
    RoleCode.HEAD,
    RoleCode.MANAGEMENT,
    RoleCode.ADMINISTRATOR,
)
# Handing a conversation to somebody else is routing: the contact center and the heads.
can_assign_conversations = has_role(
    RoleCode.OPERATOR, RoleCode.HEAD, RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR
)

# Channel settings hold the providers' secrets.
rules.add_perm("communications.manage_channels", is_administrator)
rules.add_perm("communications.use_inbox", can_use_inbox)
rules.add_perm("communications.assign_conversation", can_assign_conversations)

grant_model_permissions("communications", is_administrator)
