from rest_framework.routers import DefaultRouter

from shipping.api import views

router = DefaultRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("waves", views.WaveViewSet, basename="wave")
router.register("pick-lists", views.PickListViewSet, basename="pick-list")
router.register("pick-tasks", views.PickTaskViewSet, basename="pick-task")
router.register("shipments", views.ShipmentViewSet, basename="shipment")
router.register("outbound/kpis", views.OutboundKpiViewSet, basename="outbound-kpi")

urlpatterns = router.urls
