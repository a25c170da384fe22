"""Role checks: every view declares which roles may read and which may write."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from warehouse.roles import ALL_ROLES, MANAGER


def user_roles(user) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_dockside_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._dockside_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True if the user holds any of `roles`; managers and superusers hold every role."""
    if user and user.is_authenticated and user.is_superuser:
        return True
    held = user_roles(user)
    return MANAGER in held or bool(held.intersection(roles))


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
