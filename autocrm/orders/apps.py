from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.orders"
    verbose_name = _("Sales orders")

    def ready(self) -> None:
        from autocrm.orders import rules  # noqa: F401  (registers permissions)
