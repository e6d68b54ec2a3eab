"""Every write of the trade-in app (ARCHITECTURE rule 1): booking inspections, recording
appraisals, accepting or declining the offer and taking the car into stock."""

from autocrm.trade_ins.services.appraisal import (
    DefectInput,
    appraisal_photo_add,
    appraisal_record,
)
from autocrm.trade_ins.services.booking import (
    NoAppraiserFree,
    appointment_reschedule,
    trade_in_cancel,
    trade_in_create,
)
from autocrm.trade_ins.services.decisions import (
    trade_in_accept,
    trade_in_decline,
    trade_in_take_into_stock,
)

__all__ = [
    "DefectInput",
    "NoAppraiserFree",
    "appointment_reschedule",
    "appraisal_photo_add",
    "appraisal_record",
    "trade_in_accept",
    "trade_in_cancel",
    "trade_in_create",
    "trade_in_decline",
    "trade_in_take_into_stock",
]
