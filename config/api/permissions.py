"""Role checks: every view declares which roles may read and which may write."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from warehouse.roles import ALL_ROLES, MANAGER, has_role, user_roles

__all__ = ["RolePermission", "has_role", "user_roles"]


class RolePermission(BasePermission):
    """Reads need one of `view.read_roles` (default: any role); writes one of `view.write_roles`.

    A view may refine per action with `view.action_roles = {"confirm": ("dock",)}`.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        action_roles = getattr(view, "action_roles", {})
        action = getattr(view, "action", None)
        if action in action_roles:
            roles = action_roles[action]
        elif request.method in SAFE_METHODS:
            roles = getattr(view, "read_roles", ALL_ROLES)
        else:
            roles = getattr(view, "write_roles", (MANAGER,))
        return has_role(request.user, *roles)
