from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        # Requests appear on the client card's timeline, and the client's deals and tasks
        # as panels of the card (clients is a lower app and knows nothing of sales).
        from django.urls import reverse

        from autocrm.clients.timeline import register_card_panel
        from autocrm.sales import timeline

        timeline.register()
        register_card_panel(
            "deals", lambda client: reverse("sales:client_deals_panel", args=[client.pk])
        )
        register_card_panel(
            "tasks", lambda client: f"{reverse('sales:task_panel')}?client={client.pk}"
        )
