from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        # Requests appear on the client card's timeline (clients is a lower app).
        from autocrm.sales import timeline

        timeline.register()
