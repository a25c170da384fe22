from django.urls import path

from warehouse.counts import pages

app_name = "counts"

urlpatterns = [
    path("", pages.home, name="home"),
    path("<int:pk>/", pages.count, name="count"),
]
