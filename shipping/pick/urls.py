from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from shipping.pick import views
from warehouse.logins import ThrottledLoginView

app_name = "pick"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        ThrottledLoginView.as_view(
            template_name="pick/login.html",
            redirect_authenticated_user=True,
            next_page=reverse_lazy("pick:home"),
        ),
        name="login",
    ),
    path(
        "logout/",
        auth_views.LogoutView.as_view(next_page=reverse_lazy("pick:login")),
        name="logout",
    ),
    path("lists/<int:pk>/", views.pick_list, name="list"),
    path("lists/<int:pk>/start/", views.start, name="start"),
    path("lists/<int:pk>/task/", views.task, name="task"),
    path("shipments/<int:pk>/slip/", views.packing_slip, name="packing-slip"),
]
