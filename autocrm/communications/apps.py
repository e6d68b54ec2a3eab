from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunicationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.communications"
    verbose_name = _("Communications")

    def ready(self) -> None:
        # The client card's timeline (a lower app) learns of messages, calls, forms and
        # visits through its source registry.
        from autocrm.communications import timeline

        timeline.register()
