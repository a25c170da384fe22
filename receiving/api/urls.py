from rest_framework.routers import DefaultRouter

from receiving.api import return_views, views

router = DefaultRouter()
router.register("suppliers", views.SupplierViewSet, basename="supplier")
router.register("inspection-rules", views.InspectionRuleViewSet, basename="inspection-rule")
router.register("inbound-shipments", views.InboundShipmentViewSet, basename="inbound-shipment")
router.register("dock-appointments", views.DockAppointmentViewSet, basename="dock-appointment")
router.register("receipts", views.ReceiptViewSet, basename="receipt")
router.register("inspections", views.InspectionViewSet, basename="inspection")
router.register("putaway-tasks", views.PutawayTaskViewSet, basename="putaway-task")
router.register("returns", return_views.ReturnViewSet, basename="return")
router.register("return-receipts", return_views.ReturnReceiptViewSet, basename="return-receipt")

urlpatterns = router.urls
