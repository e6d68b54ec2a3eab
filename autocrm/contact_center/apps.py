from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactCenterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autocrm.contact_center"
    verbose_name = _("Contact center")
