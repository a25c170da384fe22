"""Domain errors. Services raise them; one exception handler maps them to problem+json."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the warehouse refused the request; nothing was written.

    `code` names the problem for clients; `http_status` is how the API reports it (409 unless
    the subclass says otherwise); `errors` optionally carries per-field messages.
    """

    code = "domain-error"
    title = "Request refused"
    http_status = 409

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidTransition(DomainError):
    code = "invalid-transition"
    title = "Illegal state transition"


class InsufficientStock(DomainError):
    code = "insufficient-stock"
    title = "Not enough stock"


class CapacityExceeded(DomainError):
    code = "capacity-exceeded"
    title = "Location capacity exceeded"


class StorageClassMismatch(DomainError):
    code = "wrong-storage-class"
    title = "Wrong storage class for this location"


class LocationInactive(DomainError):
    code = "location-inactive"
    title = "Location is not active"


class InvalidQuantity(DomainError):
    code = "invalid-quantity"
    title = "Invalid quantity"
    http_status = 400


class IdempotencyKeyReused(DomainError):
    code = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"
    http_status = 422


# PostgreSQL's "deadlock detected" and "serialization failure": the transaction was rolled
# back whole and may simply be run again.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient_conflict(error: BaseException) -> bool:
    """True for a PostgreSQL deadlock victim or serialisation failure (safe to retry whole)."""
    for candidate in (error, error.__cause__):
        if getattr(candidate, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
    return False


class WrongCountScan(DomainError):
    """A cycle count scan that does not fit: another bin, an unknown item, one not counted here."""

    code = "wrong-count-scan"
    title = "Scan does not fit this count"
    http_status = 422


class CounterNotAllowed(DomainError):
    """The recount of a variance must be made by someone who has not counted the bin yet, and a
    variance approved by someone who did not count it."""

    code = "counter-not-allowed"
    title = "A different person must do this"
    http_status = 403


class NotCountable(DomainError):
    code = "not-countable"
    title = "Location is not cycle counted"
    http_status = 400
