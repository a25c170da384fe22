from importlib import import_module

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health
from config.api.routing import by_first_segment
from shipping.kpis.dashboard import kpi_dashboard
from warehouse.logins import admin_login

# Each app's router patterns grouped by their first segment (config.api.routing): a request
# tries a few dozen patterns instead of every route of the apps listed before its own.
api_v1 = [
    path("", include(by_first_segment(import_module(f"{app}.api.urls").urlpatterns)))
    for app in ("warehouse", "shipping", "receiving", "routing")
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before admin.site.urls, whose catch-all would take the path; admin_view adds the login.
    path("admin/kpis/", admin.site.admin_view(kpi_dashboard), name="kpi_dashboard"),
    # The admin's own login, answering 429 with Retry-After once failed logins are throttled.
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("pick/", include("shipping.pick.urls")),
    path("counts/", include("warehouse.counts.urls")),
    # Public, no login: a shipment's tracking page and JSON behind its unguessable token.
    path("track/", include("shipping.track.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
