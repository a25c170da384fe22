from django.apps import AppConfig


def enqueue_backorder_reallocation(warehouse_id: int, product_id: int) -> None:
    """Stock listener: re-allocate backorders once the stock change has committed."""
    from warehouse.outbox import enqueue

    enqueue("shipping.tasks.reallocate_backorders_task", warehouse_id, product_id)


class ShippingConfig(AppConfig):
    name = "shipping"
    verbose_name = "Outbound"

    def ready(self) -> None:
        from warehouse.events import register_stock_available_listener

        register_stock_available_listener(enqueue_backorder_reallocation)
