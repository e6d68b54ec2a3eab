"""Who may work the operator inbox. The rows each user sees are scoping's job."""

from __future__ import annotations

import rules

from autocrm.communications.rules import can_assign_conversations, can_use_inbox

# Operators, sales managers, heads, management and administrators (the communications
# app's inbox roles); a dealer center's staff sees only its dealer centers' conversations.
rules.add_perm("contact_center.view_inbox", can_use_inbox)
rules.add_perm("contact_center.assign_conversation", can_assign_conversations)
