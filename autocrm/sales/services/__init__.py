"""Every write of the sales app (ARCHITECTURE rule 1), by entity."""

from autocrm.sales.services.deals import (
    StageMoveRefused,
    deal_create,
    deal_move,
    deal_qualify,
    deal_update,
    first_stage,
    loss_reason_for,
)
from autocrm.sales.services.requests import (
    REQUEST_CONTINUATION,
    Touch,
    request_create,
    request_set_status,
    request_touch,
    requests_continue_bulk,
)
from autocrm.sales.services.tasks import (
    task_cancel,
    task_comment_add,
    task_complete,
    task_create,
    task_reopen,
    task_update,
    task_url,
)

__all__ = [
    "REQUEST_CONTINUATION",
    "StageMoveRefused",
    "Touch",
    "deal_create",
    "deal_move",
    "deal_qualify",
    "deal_update",
    "first_stage",
    "loss_reason_for",
    "request_create",
    "request_set_status",
    "request_touch",
    "requests_continue_bulk",
    "task_cancel",
    "task_comment_add",
    "task_complete",
    "task_create",
    "task_reopen",
    "task_update",
    "task_url",
]
