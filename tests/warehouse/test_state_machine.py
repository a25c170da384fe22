"""A Hypothesis state machine drives the inventory service and checks it against a Python model.

The model predicts every outcome: the new quantities on success, or which domain error the
service must raise (and then the database must be exactly as before). After every step the
balances must equal the model, obey 0 <= allocated <= quantity, and reconcile with the ledger.

Rules mostly act on stock the model knows is there, with quantities around what is free, so
that successes and refusals both happen often; sometimes they pick any place at random.
Each example runs inside a savepoint of the test's transaction that is rolled back in teardown,
so every example starts from the same empty site.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.factories import warehouse as wf
from warehouse import services
from warehouse.errors import (
    CapacityExceeded,
    DomainError,
    InsufficientStock,
    InvalidQuantity,
    StorageClassMismatch,
)
from warehouse.models import Location, Product, StockBalance, StockMove, StockStatus
from warehouse.selectors import list_ledger_mismatches

AVAILABLE, QUARANTINE, DAMAGED = StockStatus.AVAILABLE, StockStatus.QUARANTINE, StockStatus.DAMAGED
STATUSES = [AVAILABLE, QUARANTINE, DAMAGED]


@dataclass(frozen=True)
class Item:
    """A product and lot that stock is counted in."""

    product: Product
    lot_id: int | None


@dataclass(frozen=True)
class Spot:
    """One balance: an item in one status in one location."""

    location: Location
    item: Item
    status: str

    @property
    def key(self) -> tuple:
        return (self.location.id, self.item.product.id, self.item.lot_id, self.status)


def _snapshot() -> tuple[list[tuple], int]:
    rows = list(
        StockBalance.objects.order_by("id").values_list(
            "id", "location_id", "product_id", "lot_id", "status", "quantity", "allocated"
        )
    )
    return rows, StockMove.objects.count()


class InventoryMachine(RuleBasedStateMachine):
    """Set `locations` and `items` on a subclass before running."""

    locations: list[Location]
    items: list[Item]

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        # balance key -> [quantity, allocated]
        self.model: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        self.spots: dict[tuple, Spot] = {}
        self.moves = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- choosing what to act on ---------------------------------------------------------------

    def _any_spot(self, data, statuses=STATUSES) -> Spot:
        return Spot(
            data.draw(st.sampled_from(self.locations)),
            data.draw(st.sampled_from(self.items)),
            data.draw(st.sampled_from(statuses)),
        )

    def _spot(self, data, *, has: Callable[[int, int], bool], statuses=STATUSES) -> Spot:
        """Usually a spot with stock that satisfies `has(quantity, allocated)`; else any spot."""
        known = sorted(
            key
            for key, (quantity, allocated) in self.model.items()
            if key[3] in statuses and has(quantity, allocated)
        )
        # Hypothesis leans towards the first choices: known stock first, "anywhere" last.
        choice = data.draw(st.sampled_from([*known, None]))
        if choice is None:
            return self._any_spot(data, statuses)
        return self.spots[choice]

    def _quantity_around(self, data, amount: int) -> int:
        """Mostly at most `amount`, sometimes just more, so both outcomes are exercised."""
        return data.draw(st.integers(1, max(amount, 1) + 2))

    # --- the model's predictions -------------------------------------------------------------

    def _free(self, spot: Spot) -> int:
        quantity, allocated = self.model.get(spot.key, (0, 0))
        return quantity - allocated

    def _allocated(self, spot: Spot) -> int:
        return self.model.get(spot.key, (0, 0))[1]

    def _accepts(self, location: Location, item: Item, quantity: int) -> type[DomainError] | None:
        """Which error `check_location_accepts` must raise, if any."""
        product = item.product
        if location.zone.is_stocking and location.zone.storage_class != product.storage_class:
            return StorageClassMismatch
        products = {item.product.id: item.product for item in self.items}
        weight = volume = Decimal(0)
        for (location_id, product_id, _, _), (on_hand, _) in self.model.items():
            if location_id == location.id:
                weight += on_hand * products[product_id].unit_weight_kg
                volume += on_hand * products[product_id].unit_volume_m3
        if location.max_weight_kg is not None and (
            weight + quantity * product.unit_weight_kg > location.max_weight_kg
        ):
            return CapacityExceeded
        if location.max_volume_m3 is not None and (
            volume + quantity * product.unit_volume_m3 > location.max_volume_m3
        ):
            return CapacityExceeded
        return None

    def _apply(
        self,
        expected: type[DomainError] | None,
        call: Callable[[], object],
        changes: list[tuple[Spot, int, int]],
        *,
        writes_move: bool = True,
    ) -> None:
        """Run `call`; on success apply `changes` (spot, d_quantity, d_allocated) to the model."""
        before = _snapshot()
        try:
            call()
        except DomainError as error:
            assert type(error) is expected, f"expected {expected}, got {error!r}"
            assert _snapshot() == before, "a refused call wrote something"
            return
        assert expected is None, f"expected {expected.__name__}, but it succeeded"
        for spot, d_quantity, d_allocated in changes:
            self.spots[spot.key] = spot
            self.model[spot.key][0] += d_quantity
            self.model[spot.key][1] += d_allocated
        self.moves += 1 if writes_move else 0

    # --- rules ---------------------------------------------------------------------------------

    @rule(data=st.data(), quantity=st.integers(1, 300), quarantined=st.booleans())
    def receive(self, data, quantity, quarantined):
        spot = self._any_spot(data, [QUARANTINE if quarantined else AVAILABLE])
        self._apply(
            self._accepts(spot.location, spot.item, quantity),
            lambda: services.receive_stock(
                location_id=spot.location.id,
                product_id=spot.item.product.id,
                lot_id=spot.item.lot_id,
                quantity=quantity,
                status=spot.status,
            ),
            [(spot, quantity, 0)],
        )

    @rule(data=st.data(), allocated=st.booleans())
    def move(self, data, allocated):
        if allocated:
            source = self._spot(data, has=lambda q, a: a > 0, statuses=[AVAILABLE])
            quantity = self._quantity_around(data, self._allocated(source))
        else:
            source = self._spot(data, has=lambda q, a: q > a)
            quantity = self._quantity_around(data, self._free(source))
        target = Spot(data.draw(st.sampled_from(self.locations)), source.item, source.status)
        if source == target:
            expected = InvalidQuantity
        else:
            expected = self._accepts(target.location, target.item, quantity)
            have = self._allocated(source) if allocated else self._free(source)
            if expected is None and have < quantity:
                expected = InsufficientStock
        carried = quantity if allocated else 0
        self._apply(
            expected,
            lambda: services.move_stock(
                from_location_id=source.location.id,
                to_location_id=target.location.id,
                product_id=source.item.product.id,
                lot_id=source.item.lot_id,
                quantity=quantity,
                status=source.status,
                allocated=allocated,
            ),
            [(source, -quantity, -carried), (target, quantity, carried)],
        )

    @rule(data=st.data(), to_status=st.sampled_from(STATUSES))
    def change_status(self, data, to_status):
        source = self._spot(data, has=lambda q, a: q > a)
        quantity = self._quantity_around(data, self._free(source))
        target = Spot(source.location, source.item, to_status)
        if source == target:
            expected = InvalidQuantity
        elif self._free(source) < quantity:
            expected = InsufficientStock
        else:
            expected = None  # no capacity check: nothing is added to the location
        self._apply(
            expected,
            lambda: services.change_stock_status(
                location_id=source.location.id,
                product_id=source.item.product.id,
                lot_id=source.item.lot_id,
                quantity=quantity,
                from_status=source.status,
                to_status=to_status,
                reason=StockMove.Reason.QUARANTINE,
            ),
            [(source, -quantity, 0), (target, quantity, 0)],
        )

    @rule(data=st.data(), found=st.booleans())
    def adjust(self, data, found):
        spot = self._spot(data, has=lambda q, a: q > a)
        amount = self._quantity_around(data, self._free(spot))
        delta = amount if found else -amount
        if data.draw(st.integers(0, 19)) == 0:
            delta = 0
        if delta == 0:
            expected = InvalidQuantity
        elif delta > 0:
            expected = self._accepts(spot.location, spot.item, delta)
        else:
            expected = InsufficientStock if self._free(spot) < -delta else None
        self._apply(
            expected,
            lambda: services.adjust_stock(
                location_id=spot.location.id,
                product_id=spot.item.product.id,
                lot_id=spot.item.lot_id,
                delta=delta,
                status=spot.status,
            ),
            [(spot, delta, 0)],
        )

    @rule(data=st.data())
    def ship(self, data):
        spot = self._spot(data, has=lambda q, a: a > 0, statuses=[AVAILABLE])
        quantity = self._quantity_around(data, self._allocated(spot))
        self._apply(
            InsufficientStock if self._allocated(spot) < quantity else None,
            lambda: services.ship_stock(
                location_id=spot.location.id,
                product_id=spot.item.product.id,
                lot_id=spot.item.lot_id,
                quantity=quantity,
            ),
            [(spot, -quantity, -quantity)],
        )

    def _balance_id(self, spot: Spot) -> int | None:
        location_id, product_id, lot_id, status = spot.key
        return (
            StockBalance.objects.filter(
                location_id=location_id, product_id=product_id, lot_id=lot_id, status=status
            )
            .values_list("id", flat=True)
            .first()
        )

    @rule(data=st.data())
    def allocate(self, data):
        # Any status: allocating quarantined or damaged stock must be refused.
        spot = self._spot(data, has=lambda q, a: q > 0)
        balance_id = self._balance_id(spot)
        if balance_id is None:
            return
        quantity = self._quantity_around(data, self._free(spot))
        allowed = spot.status == AVAILABLE and self._free(spot) >= quantity
        self._apply(
            None if allowed else InsufficientStock,
            lambda: services.allocate_stock(balance_id=balance_id, quantity=quantity),
            [(spot, 0, quantity)],
            writes_move=False,
        )

    @rule(data=st.data())
    def deallocate(self, data):
        spot = self._spot(data, has=lambda q, a: a > 0, statuses=[AVAILABLE])
        balance_id = self._balance_id(spot)
        if balance_id is None:
            return
        quantity = self._quantity_around(data, self._allocated(spot))
        self._apply(
            None if self._allocated(spot) >= quantity else InvalidQuantity,
            lambda: services.deallocate_stock(balance_id=balance_id, quantity=quantity),
            [(spot, 0, -quantity)],
            writes_move=False,
        )

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def balances_hold(self):
        """0 <= allocated <= quantity, balances == model, balances == ledger."""
        rows = list(
            StockBalance.objects.values_list(
                "location_id", "product_id", "lot_id", "status", "quantity", "allocated"
            )
        )
        assert all(0 <= allocated <= quantity for *_, quantity, allocated in rows)
        actual = {row[:4]: [row[4], row[5]] for row in rows if row[4] or row[5]}
        expected = {key: value for key, value in self.model.items() if value != [0, 0]}
        assert actual == expected
        assert list_ledger_mismatches() == []
        assert StockMove.objects.count() == self.moves


@pytest.mark.django_db
def test_inventory_service_matches_the_model(site):
    """Receive / move / status change / allocate / deallocate / adjust / ship in any order."""
    ambient = wf.make_product(
        sku="SM-AMB", unit_weight_kg=Decimal("2.5"), unit_volume_m3=Decimal("0.004")
    )
    bulky = wf.make_product(
        sku="SM-BULK", unit_weight_kg=Decimal("0.2"), unit_volume_m3=Decimal("0.01")
    )
    chilled = wf.make_product(
        sku="SM-CHL", storage_class="chilled", is_lot_tracked=True, unit_weight_kg=Decimal("1")
    )
    lot = wf.make_lot(chilled, "SM-L1")

    class Machine(InventoryMachine):
        # Dock, quarantine, two ambient bins (1,000 kg / 2 m3), a chilled bin (500 kg / 1 m3)
        # and staging: small enough that capacity and storage-class refusals happen often.
        locations = [
            Location.objects.select_related("zone").get(id=location.id)
            for location in (
                site.dock,
                site.quarantine,
                site.bins[0],
                site.bins[1],
                site.chilled_bins[0],
                site.staging,
            )
        ]
        items = [Item(ambient, None), Item(bulky, None), Item(chilled, lot.id)]

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
