from django.apps import AppConfig


def enqueue_backorder_reallocation(warehouse_id: int, product_id: int) -> None:
    """Stock listener: runs after the stock change committed, so enqueue straight away."""
    from shipping.tasks import reallocate_backorders_task

    reallocate_backorders_task.delay(warehouse_id, product_id)


class ShippingConfig(AppConfig):
    name = "shipping"
    verbose_name = "Outbound"

    def ready(self) -> None:
        from warehouse.events import register_stock_available_listener

        register_stock_available_listener(enqueue_backorder_reallocation)
