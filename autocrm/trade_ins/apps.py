from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TradeInsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.trade_ins"
    verbose_name = _("Trade-in")
