from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from autocrm.accounts.forms import LoginForm
from autocrm.config.api import api
from autocrm.core.health import healthz
from autocrm.finance.hooks import broker_callback

admin.site.site_header = "AutoCRM"
admin.site.site_title = "AutoCRM"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("structure/", include("autocrm.accounts.urls")),
    path("stock/", include("autocrm.inventory.urls")),
    path("clients/", include("autocrm.clients.urls")),
    path("communications/", include("autocrm.communications.urls")),
    path("contact-center/", include("autocrm.contact_center.urls")),
    path("sales/", include("autocrm.sales.urls")),
    path("orders/", include("autocrm.orders.urls")),
    path("finance/", include("autocrm.finance.urls")),
    path("trade-ins/", include("autocrm.trade_ins.urls")),
    # Before the channels' <kind>/<key>/ pattern, which would take "ecredit" for a channel.
    path("hooks/ecredit/<int:connection_id>/", broker_callback, name="ecredit_callback"),
    path("hooks/", include(("autocrm.communications.urls_hooks", "hooks"))),
    path("", include("autocrm.core.urls")),
]
