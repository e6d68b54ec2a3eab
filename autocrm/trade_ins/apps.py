from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TradeInsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.trade_ins"
    verbose_name = _("Trade-in")

    def ready(self) -> None:
        from autocrm.orders.extensions import register_amount
        from autocrm.trade_ins import rules  # noqa: F401  (registers permissions)
        from autocrm.trade_ins.selectors import order_trade_in_credit

        # The order's "trade-in credit" is the accepted amount of its accepted cars;
        # order_recalculate asks for it inside its transaction.
        register_amount("trade_in_credit", order_trade_in_credit)
