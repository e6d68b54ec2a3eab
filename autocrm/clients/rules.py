"""Client permissions; which clients a user sees is scoping's job.

- ``clients.view_client``: everyone who meets or answers customers (operators, hostesses,
  sales, service, appraisers, lawyers, heads, management, administrators). Logisticians
  move cars and do not need the client base.
- ``clients.add_client`` / ``clients.change_client``: the same people create clients by
  hand and record contacts and consents as they learn them.
- ``clients.merge_clients``: merging cannot be undone, so it is for those who answer for
  the base: heads of dealer centers, group management, administrators and the contact
  center's operators (they meet most duplicates: one person writing from several
  messengers). The duplicates screen and ``GET /clients/duplicates`` need it too.
- ``clients.delete_client`` and the other models' permissions stay administrators' only.

The view/add/change permissions are also Django's model permissions; widening them gives
nobody the admin site, which needs ``is_staff`` (administrators only, accounts.services).
"""

from __future__ import annotations

import rules

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.rules import grant_model_permissions, has_role, is_administrator

works_with_clients = has_role(
    RoleCode.OPERATOR,
    RoleCode.HOSTESS,
    RoleCode.SALES_MANAGER,
    RoleCode.SERVICE,
    RoleCode.APPRAISER,
    RoleCode.LAWYER,
    RoleCode.HEAD,
    RoleCode.MANAGEMENT,
    RoleCode.ADMINISTRATOR,
)
can_merge_clients = has_role(
    RoleCode.HEAD, RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR, RoleCode.OPERATOR
)

grant_model_permissions("clients", is_administrator)
rules.set_perm("clients.view_client", works_with_clients)
rules.set_perm("clients.add_client", works_with_clients)
rules.set_perm("clients.change_client", works_with_clients)
rules.add_perm("clients.merge_clients", can_merge_clients)
