from rest_framework.routers import DefaultRouter

from routing.api import views

router = DefaultRouter()
router.register("vehicles", views.VehicleViewSet, basename="vehicle")
router.register("route-plans", views.RoutePlanViewSet, basename="route-plan")

urlpatterns = router.urls
