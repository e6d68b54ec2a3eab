from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from autocrm.finance import contributions, rules  # noqa: F401

        contributions.register()
