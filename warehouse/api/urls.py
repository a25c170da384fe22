from rest_framework.routers import DefaultRouter

from warehouse.api import views

router = DefaultRouter()
router.register("auth/tokens", views.DeviceTokenViewSet, basename="device-token")
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("zones", views.ZoneViewSet, basename="zone")
router.register("products", views.ProductViewSet, basename="product")
router.register("lots", views.LotViewSet, basename="lot")
router.register("locations", views.LocationViewSet, basename="location")
router.register("stock/balances", views.StockBalanceViewSet, basename="stock-balance")
router.register("stock/moves", views.StockMoveViewSet, basename="stock-move")

urlpatterns = router.urls
