from autocrm.finance.models.credit import (
    Bank,
    BrokerCallback,
    BrokerConnection,
    BrokerSubmission,
    CreditApplicant,
    CreditApplication,
    CreditApplicationEvent,
    CreditDocument,
    CreditOffer,
    CreditProgram,
    CreditProgramRate,
    PiiAccess,
)
from autocrm.finance.models.products import FinancialProduct, OrderProduct, ProductKind

__all__ = [
    "Bank",
    "BrokerCallback",
    "BrokerConnection",
    "BrokerSubmission",
    "CreditApplicant",
    "CreditApplication",
    "CreditApplicationEvent",
    "CreditDocument",
    "CreditOffer",
    "CreditProgram",
    "CreditProgramRate",
    "FinancialProduct",
    "OrderProduct",
    "PiiAccess",
    "ProductKind",
]
