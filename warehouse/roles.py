"""Roles are Django groups; a migration creates them. A user may hold several."""

from __future__ import annotations

DOCK = "dock"
INSPECTOR = "inspector"
PICKER = "picker"
DISPATCHER = "dispatcher"
MANAGER = "manager"

ALL_ROLES: tuple[str, ...] = (DOCK, INSPECTOR, PICKER, DISPATCHER, MANAGER)


def user_roles(user) -> set[str]:
    """The role names `user` holds, read once per request and cached on the user object."""
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


def recorded_user(actor):
    """The actor as the user to record on a row, or None for anonymous and internal callers."""
    return actor if actor is not None and actor.is_authenticated else None
