from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "warehouse"
    verbose_name = "Warehouse and inventory"

    def ready(self) -> None:
        from django.contrib import admin
        from django.utils.module_loading import autodiscover_modules

        from warehouse.logins import ThrottledAdminLoginForm

        # Admin logins count failed attempts like every other entrance (warehouse.logins).
        admin.site.login_form = ThrottledAdminLoginForm

        # Import every app's tasks now, while one thread runs. Left to the first outbox
        # message, the lazy import raced between a web worker's threads, and a thread that
        # looked a task up mid-import found it unregistered (warehouse.outbox.apply_inline).
        autodiscover_modules("tasks")
