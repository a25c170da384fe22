"""Template helpers of the KPI dashboard's admin pages."""

from __future__ import annotations

from django import template

from warehouse.roles import MANAGER, has_role

register = template.Library()


@register.filter
def may_see_kpis(user) -> bool:
    """Whether `user` may open the Delivery KPIs dashboard (managers and superusers)."""
    return has_role(user, MANAGER)
