"""Roles are Django groups; a migration creates them. A user may hold several."""

DOCK = "dock"
INSPECTOR = "inspector"
PICKER = "picker"
DISPATCHER = "dispatcher"
MANAGER = "manager"

ALL_ROLES: tuple[str, ...] = (DOCK, INSPECTOR, PICKER, DISPATCHER, MANAGER)
