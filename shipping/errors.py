"""Outbound domain errors; the API's problem handler maps each to its HTTP status."""

from __future__ import annotations

from warehouse.errors import DomainError, InvalidQuantity, InvalidTransition


class NotPacked(InvalidTransition):
    code = "shipment-not-packed"
    title = "Shipment is not packed and loaded"


class OrderNotPickable(InvalidTransition):
    code = "order-not-pickable"
    title = "Order cannot be picked"


class NothingToWave(DomainError):
    code = "nothing-to-wave"
    title = "No allocated orders fit this wave"


class NoStagingLocation(DomainError):
    code = "no-staging-location"
    title = "No staging location"


class InvalidStagingLane(DomainError):
    code = "invalid-staging-lane"
    title = "Not a staging lane of this warehouse"
    http_status = 400


class InvalidDockDoor(DomainError):
    code = "invalid-dock-door"
    title = "Not an outbound door of this warehouse"
    http_status = 400


class WrongBin(DomainError):
    code = "wrong-bin"
    title = "Wrong bin"
    http_status = 422


class WrongItem(DomainError):
    code = "wrong-item"
    title = "Wrong item"
    http_status = 422


class OverPick(InvalidQuantity):
    code = "over-pick"
    title = "More than the task asks for"


class NotYourPickList(DomainError):
    code = "not-your-pick-list"
    title = "This pick list belongs to another picker"
    http_status = 403


class InvalidPicker(DomainError):
    code = "invalid-picker"
    title = "That user cannot pick in this warehouse"
    http_status = 400


class UnknownPackage(DomainError):
    code = "unknown-package"
    title = "No such package"
    http_status = 404


class WrongVehicle(DomainError):
    code = "wrong-vehicle"
    title = "Shipment is loading onto another vehicle"


class LoadOrderViolation(DomainError):
    code = "load-order"
    title = "Load the later stops first"


class ConcurrentUpdate(DomainError):
    code = "concurrent-update"
    title = "Concurrent change"
