from django.urls import path

from shipping.track import views

app_name = "track"

urlpatterns = [
    path("<str:token>/", views.tracking_page, name="page"),
    path("<str:token>.json", views.tracking_json, name="json"),
]
