from rest_framework.routers import DefaultRouter

from shipping.api import kpi_runs, tracking, views

router = DefaultRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("waves", views.WaveViewSet, basename="wave")
router.register("pick-lists", views.PickListViewSet, basename="pick-list")
router.register("pick-tasks", views.PickTaskViewSet, basename="pick-task")
router.register("shipments", views.ShipmentViewSet, basename="shipment")
router.register("outbound/kpis", views.OutboundKpiViewSet, basename="outbound-kpi")
router.register("outbound/kpi-runs", kpi_runs.KpiRunViewSet, basename="outbound-kpi-run")
router.register(
    "webhook-subscriptions", tracking.WebhookSubscriptionViewSet, basename="webhook-subscription"
)
router.register("webhook-deliveries", tracking.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls
