"""Who sees what in admin: staff see only their warehouses' rows; managers may read the pages
they reach from the Delivery KPIs dashboard without holding Django model permissions.

Roles are groups (warehouse/roles.py) and the API decides by role; admin would otherwise decide
by Django's per-model permissions, which nobody grants to the role groups. A manager needs to
follow a late delivery to its order, shipment and route, and must never see another
warehouse's. Superusers see everything.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet

from warehouse.roles import MANAGER, has_role
from warehouse.selectors import list_warehouses_for


class WarehouseScopedAdmin(admin.ModelAdmin):
    """Rows limited to the user's warehouses; viewable by managers.

    `warehouse_lookup` is the path from the model to its Warehouse. A row outside the user's
    warehouses is "not found" (admin redirects to its index), as in the API.
    """

    warehouse_lookup = "warehouse"
    # Managers may open the list and the (read-only, unless Django permissions say more) form.
    viewable_by_managers = True

    def get_queryset(self, request) -> QuerySet:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{self.warehouse_lookup}__in": list_warehouses_for(request.user)})

    def _manager_may_view(self, request) -> bool:
        return self.viewable_by_managers and has_role(request.user, MANAGER)

    def has_module_permission(self, request) -> bool:
        return super().has_module_permission(request) or self._manager_may_view(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self._manager_may_view(request)
