from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.orders"
    verbose_name = _("Sales orders")

    def ready(self) -> None:
        # The client's orders are a panel of the client card (clients is a lower app and
        # knows nothing of orders).
        from django.urls import reverse

        from autocrm.clients.timeline import register_card_panel
        from autocrm.orders import rules  # noqa: F401  (registers permissions)

        register_card_panel(
            "orders", lambda client: reverse("orders:client_orders_panel", args=[client.pk])
        )
