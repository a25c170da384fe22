"""Roles are Django groups; a migration creates them. A user may hold several."""

from __future__ import annotations

from collections.abc import Iterable

DOCK = "dock"
INSPECTOR = "inspector"
PICKER = "picker"
DISPATCHER = "dispatcher"
MANAGER = "manager"

ALL_ROLES: tuple[str, ...] = (DOCK, INSPECTOR, PICKER, DISPATCHER, MANAGER)
# Who counts bins in cycle counts: inventory control (and managers, who hold every role).
COUNTERS: tuple[str, ...] = (INSPECTOR,)


# The cache lives on the user object, so it lasts as long as the request that loaded the user.
_CACHE_ATTRIBUTE = "_dockside_roles"


def user_roles(user) -> set[str]:
    """The role names `user` holds, read once per request and cached on the user object."""
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = remember_roles(user, user.groups.values_list("name", flat=True))
    return cached


def remember_roles(user, names: Iterable[str]) -> set[str]:
    """Cache `names` as the roles of this user object (loaded with it by the caller's query)."""
    roles = set(names)
    setattr(user, _CACHE_ATTRIBUTE, roles)
    return roles


def has_role(user, *roles: str) -> bool:
    """True if the user holds any of `roles`; managers and superusers hold every role."""
    if user and user.is_authenticated and user.is_superuser:
        return True
    held = user_roles(user)
    return MANAGER in held or bool(held.intersection(roles))


def recorded_user(actor):
    """The actor as the user to record on a row, or None for anonymous and internal callers."""
    return actor if actor is not None and actor.is_authenticated else None
