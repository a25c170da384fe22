from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "warehouse"
    verbose_name = "Warehouse and inventory"

    def ready(self) -> None:
        from django.contrib import admin

        from warehouse.logins import ThrottledAdminLoginForm

        # Admin logins count failed attempts like every other entrance (warehouse.logins).
        admin.site.login_form = ThrottledAdminLoginForm
