from rest_framework.routers import DefaultRouter

from warehouse.api import background, counts, views

router = DefaultRouter()
router.register("auth/tokens", views.DeviceTokenViewSet, basename="device-token")
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("zones", views.ZoneViewSet, basename="zone")
router.register("products", views.ProductViewSet, basename="product")
router.register("lots", views.LotViewSet, basename="lot")
router.register("locations", views.LocationViewSet, basename="location")
router.register("stock/balances", views.StockBalanceViewSet, basename="stock-balance")
router.register("stock/moves", views.StockMoveViewSet, basename="stock-move")
router.register("count-tasks", counts.CountTaskViewSet, basename="count-task")
router.register("background-work", background.BackgroundWorkViewSet, basename="background-work")

urlpatterns = router.urls
