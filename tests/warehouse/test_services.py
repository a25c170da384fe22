"""The inventory service: every change writes one ledger move; every refusal writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from tests.factories import warehouse as wf
from warehouse import events, services
from warehouse.errors import (
    CapacityExceeded,
    InsufficientStock,
    InvalidQuantity,
    LocationInactive,
    StorageClassMismatch,
)
from warehouse.models import Location, StockBalance, StockMove, StockStatus
from warehouse.selectors import list_ledger_mismatches
from warehouse.services import LotMismatch, Place

AVAILABLE, QUARANTINE, DAMAGED = StockStatus.AVAILABLE, StockStatus.QUARANTINE, StockStatus.DAMAGED
Reason = StockMove.Reason

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[list[tuple], int]:
    """Every balance row and the number of ledger moves: what a refused call must not change."""
    rows = list(
        StockBalance.objects.order_by("id").values_list(
            "id", "location_id", "product_id", "lot_id", "status", "quantity", "allocated"
        )
    )
    return rows, StockMove.objects.count()


def balance(location, product, *, status: str = AVAILABLE, lot=None) -> StockBalance:
    return StockBalance.objects.get(location=location, product=product, lot=lot, status=status)


def quantities(product) -> dict[tuple[str, str], tuple[int, int]]:
    """(location code, status) -> (quantity, allocated) for the non-empty rows of `product`."""
    return {
        (row.location.code, row.status): (row.quantity, row.allocated)
        for row in StockBalance.objects.filter(product=product).select_related("location")
        if row.quantity or row.allocated
    }


@pytest.fixture(autouse=True)
def _ledger_reconciles_after_each_test(db):
    yield
    assert list_ledger_mismatches() == []


@pytest.fixture
def clerk(db) -> User:
    return User.objects.create_user("clerk")


@pytest.fixture
def stocked(site, product):
    """20 available units of `product` in the first bin."""
    services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=20)
    return site


def refused(error: type[Exception], call, **kwargs) -> Exception:
    """Run `call`, expect `error`, and prove that nothing was written."""
    before = snapshot()
    with pytest.raises(error) as raised:
        call(**kwargs)
    assert snapshot() == before
    return raised.value


class TestReceive:
    def test_receipt_creates_the_balance_and_one_move(self, site, product, clerk):
        move = services.receive_stock(
            location_id=site.dock.id,
            product_id=product.id,
            quantity=24,
            reference="ASN-7",
            actor=clerk,
        )
        assert quantities(product) == {("DOCK-1", AVAILABLE): (24, 0)}
        assert StockMove.objects.count() == 1
        move.refresh_from_db()
        assert move.warehouse_id == site.warehouse.id
        assert move.product_id == product.id
        assert move.lot_id is None
        assert move.quantity == 24
        assert (move.from_location_id, move.from_status) == (None, "")
        assert (move.to_location_id, move.to_status) == (site.dock.id, AVAILABLE)
        assert move.reason == Reason.RECEIPT
        assert move.reference == "ASN-7"
        assert move.actor_id == clerk.id

    def test_second_receipt_adds_to_the_same_row(self, site, product):
        for quantity in (5, 7):
            services.receive_stock(
                location_id=site.dock.id, product_id=product.id, quantity=quantity
            )
        assert StockBalance.objects.filter(product=product).count() == 1
        assert balance(site.dock, product).quantity == 12
        assert StockMove.objects.count() == 2

    def test_receipt_into_quarantine(self, site, product):
        move = services.receive_stock(
            location_id=site.quarantine.id, product_id=product.id, quantity=3, status=QUARANTINE
        )
        assert quantities(product) == {("QA-1", QUARANTINE): (3, 0)}
        assert move.to_status == QUARANTINE

    def test_lot_tracked_receipt(self, site, lot_product):
        lot = wf.make_lot(lot_product, "L-7")
        move = services.receive_stock(
            location_id=site.chilled_bins[0].id,
            product_id=lot_product.id,
            quantity=4,
            lot_id=lot.id,
        )
        assert balance(site.chilled_bins[0], lot_product, lot=lot).quantity == 4
        assert move.lot_id == lot.id

    def test_anonymous_actor_is_not_recorded(self, site, product):
        move = services.receive_stock(
            location_id=site.dock.id, product_id=product.id, quantity=1, actor=AnonymousUser()
        )
        assert move.actor_id is None


class TestMove:
    def test_move_between_bins(self, stocked, product, clerk):
        site = stocked
        move = services.move_stock(
            from_location_id=site.bins[0].id,
            to_location_id=site.bins[1].id,
            product_id=product.id,
            quantity=8,
            reason=Reason.PUTAWAY,
            reference="putaway:1",
            note="top shelf",
            actor=clerk,
        )
        assert quantities(product) == {
            ("A-01-01-1", AVAILABLE): (12, 0),
            ("A-02-01-1", AVAILABLE): (8, 0),
        }
        assert StockMove.objects.count() == 2
        move.refresh_from_db()
        assert (move.from_location_id, move.from_status) == (site.bins[0].id, AVAILABLE)
        assert (move.to_location_id, move.to_status) == (site.bins[1].id, AVAILABLE)
        assert (move.quantity, move.reason, move.reference, move.note, move.actor_id) == (
            8,
            Reason.PUTAWAY,
            "putaway:1",
            "top shelf",
            clerk.id,
        )

    def test_moving_everything_leaves_an_empty_row(self, stocked, product):
        services.move_stock(
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.dock.id,
            product_id=product.id,
            quantity=20,
        )
        assert balance(stocked.bins[0], product).quantity == 0
        assert balance(stocked.dock, product).quantity == 20

    def test_picking_allocated_units_carries_the_allocation(self, stocked, product):
        source = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=source.id, quantity=6)
        move = services.move_stock(
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.staging.id,
            product_id=product.id,
            quantity=5,
            allocated=True,
            reason=Reason.PICK,
        )
        assert quantities(product) == {
            ("A-01-01-1", AVAILABLE): (15, 1),
            ("STAGE-1", AVAILABLE): (5, 5),
        }
        assert move.reason == Reason.PICK

    def test_moving_quarantined_stock_keeps_its_status(self, site, product):
        services.receive_stock(
            location_id=site.dock.id, product_id=product.id, quantity=4, status=QUARANTINE
        )
        services.move_stock(
            from_location_id=site.dock.id,
            to_location_id=site.quarantine.id,
            product_id=product.id,
            quantity=4,
            status=QUARANTINE,
        )
        assert quantities(product) == {("QA-1", QUARANTINE): (4, 0)}


class TestStatusChange:
    def test_quarantine_and_release(self, stocked, product):
        bin_ = stocked.bins[0]
        move = services.change_stock_status(
            location_id=bin_.id,
            product_id=product.id,
            quantity=5,
            from_status=AVAILABLE,
            to_status=QUARANTINE,
            reason=Reason.QUARANTINE,
        )
        assert quantities(product) == {
            ("A-01-01-1", AVAILABLE): (15, 0),
            ("A-01-01-1", QUARANTINE): (5, 0),
        }
        assert (move.from_location_id, move.to_location_id) == (bin_.id, bin_.id)
        assert (move.from_status, move.to_status, move.reason) == (
            AVAILABLE,
            QUARANTINE,
            Reason.QUARANTINE,
        )
        services.change_stock_status(
            location_id=bin_.id,
            product_id=product.id,
            quantity=2,
            from_status=QUARANTINE,
            to_status=AVAILABLE,
            reason=Reason.RELEASE,
        )
        assert quantities(product) == {
            ("A-01-01-1", AVAILABLE): (17, 0),
            ("A-01-01-1", QUARANTINE): (3, 0),
        }
        assert StockMove.objects.count() == 3

    def test_status_change_in_a_full_bin_is_not_a_capacity_problem(self, site):
        heavy = wf.make_product(unit_weight_kg=Decimal(100))
        services.receive_stock(location_id=site.bins[0].id, product_id=heavy.id, quantity=10)
        # The bin is at exactly 1,000 kg; changing status adds no weight.
        services.change_stock_status(
            location_id=site.bins[0].id,
            product_id=heavy.id,
            quantity=10,
            from_status=AVAILABLE,
            to_status=DAMAGED,
            reason=Reason.DAMAGE,
        )
        assert quantities(heavy) == {("A-01-01-1", DAMAGED): (10, 0)}


class TestAdjust:
    def test_found_stock(self, stocked, product):
        move = services.adjust_stock(
            location_id=stocked.bins[0].id, product_id=product.id, delta=3, note="count"
        )
        assert balance(stocked.bins[0], product).quantity == 23
        assert (move.from_location_id, move.to_location_id) == (None, stocked.bins[0].id)
        assert (move.quantity, move.reason, move.note) == (3, Reason.ADJUST, "count")

    def test_lost_stock(self, stocked, product):
        move = services.adjust_stock(
            location_id=stocked.bins[0].id, product_id=product.id, delta=-4, reason=Reason.COUNT
        )
        assert balance(stocked.bins[0], product).quantity == 16
        assert (move.from_location_id, move.to_location_id) == (stocked.bins[0].id, None)
        assert (move.quantity, move.from_status, move.reason) == (4, AVAILABLE, Reason.COUNT)

    def test_allocated_units_cannot_be_adjusted_away(self, stocked, product):
        services.allocate_stock(balance_id=balance(stocked.bins[0], product).id, quantity=18)
        refused(
            InsufficientStock,
            services.adjust_stock,
            location_id=stocked.bins[0].id,
            product_id=product.id,
            delta=-3,
        )
        services.adjust_stock(location_id=stocked.bins[0].id, product_id=product.id, delta=-2)
        assert balance(stocked.bins[0], product).quantity == 18

    def test_zero_delta_is_refused(self, stocked, product):
        refused(
            InvalidQuantity,
            services.adjust_stock,
            location_id=stocked.bins[0].id,
            product_id=product.id,
            delta=0,
        )


class TestAllocateShip:
    def test_allocate_and_deallocate_write_no_move(self, stocked, product):
        row = balance(stocked.bins[0], product)
        moves = StockMove.objects.count()
        services.allocate_stock(balance_id=row.id, quantity=15)
        assert quantities(product) == {("A-01-01-1", AVAILABLE): (20, 15)}
        services.deallocate_stock(balance_id=row.id, quantity=10)
        assert quantities(product) == {("A-01-01-1", AVAILABLE): (20, 5)}
        # Promising stock does not move it: the ledger records quantities only.
        assert StockMove.objects.count() == moves

    def test_allocate_exactly_what_is_free(self, stocked, product):
        row = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=row.id, quantity=20)
        refused(InsufficientStock, services.allocate_stock, balance_id=row.id, quantity=1)

    def test_over_allocation_is_refused(self, stocked, product):
        row = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=row.id, quantity=12)
        error = refused(InsufficientStock, services.allocate_stock, balance_id=row.id, quantity=9)
        assert "Only 8 free" in str(error)

    def test_quarantined_stock_is_not_allocatable(self, site, product):
        services.receive_stock(
            location_id=site.quarantine.id, product_id=product.id, quantity=9, status=QUARANTINE
        )
        row = balance(site.quarantine, product, status=QUARANTINE)
        refused(InsufficientStock, services.allocate_stock, balance_id=row.id, quantity=1)

    def test_unknown_balance(self, db):
        refused(InsufficientStock, services.allocate_stock, balance_id=987654, quantity=1)

    @pytest.mark.parametrize("quantity", [0, -2])
    def test_allocate_needs_a_positive_quantity(self, stocked, product, quantity):
        row = balance(stocked.bins[0], product)
        refused(InvalidQuantity, services.allocate_stock, balance_id=row.id, quantity=quantity)
        refused(InvalidQuantity, services.deallocate_stock, balance_id=row.id, quantity=quantity)

    def test_deallocating_more_than_allocated_is_refused(self, stocked, product):
        row = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=row.id, quantity=3)
        refused(InvalidQuantity, services.deallocate_stock, balance_id=row.id, quantity=4)

    def test_ship_consumes_allocated_units(self, stocked, product, clerk):
        row = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=row.id, quantity=7)
        move = services.ship_stock(
            location_id=stocked.bins[0].id,
            product_id=product.id,
            quantity=7,
            reference="order:SO-1",
            actor=clerk,
        )
        assert quantities(product) == {("A-01-01-1", AVAILABLE): (13, 0)}
        move.refresh_from_db()
        assert (move.from_location_id, move.from_status) == (stocked.bins[0].id, AVAILABLE)
        assert (move.to_location_id, move.to_status) == (None, "")
        assert (move.quantity, move.reason, move.reference, move.actor_id) == (
            7,
            Reason.SHIP,
            "order:SO-1",
            clerk.id,
        )

    def test_shipping_unallocated_units_is_refused(self, stocked, product):
        row = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=row.id, quantity=2)
        refused(
            InsufficientStock,
            services.ship_stock,
            location_id=stocked.bins[0].id,
            product_id=product.id,
            quantity=3,
        )

    def test_ship_allocated_stock_writes_one_move_per_allocation(self, stocked, product, clerk):
        services.receive_stock(location_id=stocked.bins[1].id, product_id=product.id, quantity=5)
        first, second = balance(stocked.bins[0], product), balance(stocked.bins[1], product)
        services.allocate_stock(balance_id=first.id, quantity=9)
        services.allocate_stock(balance_id=second.id, quantity=5)
        # Two allocations of one balance (two order lines of the same product) and one more.
        moves = services.ship_allocated_stock(
            units=[(first.id, 4), (second.id, 5), (first.id, 3)],
            reference="shipment:SH-1",
            actor=clerk,
        )
        # The second bin is empty now (empty balances are not listed).
        assert quantities(product) == {("A-01-01-1", AVAILABLE): (13, 2)}
        assert [(m.from_location_id, m.quantity) for m in moves] == [
            (stocked.bins[0].id, 4),
            (stocked.bins[1].id, 5),
            (stocked.bins[0].id, 3),
        ]
        assert {(m.to_location_id, m.reason, m.reference, m.actor_id) for m in moves} == {
            (None, Reason.SHIP, "shipment:SH-1", clerk.id)
        }
        assert {m.warehouse_id for m in moves} == {stocked.bins[0].warehouse_id}

    def test_ship_allocated_stock_refuses_more_than_allocated_in_all(self, stocked, product):
        row = balance(stocked.bins[0], product)
        services.allocate_stock(balance_id=row.id, quantity=6)
        # Each pair alone fits; together they take more than the balance has allocated.
        error = refused(
            InsufficientStock, services.ship_allocated_stock, units=[(row.id, 4), (row.id, 3)]
        )
        assert "Only 6 allocated" in str(error)
        refused(InvalidQuantity, services.ship_allocated_stock, units=[(row.id, 0)])
        refused(InsufficientStock, services.ship_allocated_stock, units=[(987654, 1)])


class TestInsufficientStock:
    def test_more_than_on_hand(self, stocked, product):
        error = refused(
            InsufficientStock,
            services.move_stock,
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.bins[1].id,
            product_id=product.id,
            quantity=21,
        )
        assert "Only 20 free" in str(error)

    def test_allocated_units_cannot_be_moved_as_free(self, stocked, product):
        services.allocate_stock(balance_id=balance(stocked.bins[0], product).id, quantity=16)
        error = refused(
            InsufficientStock,
            services.move_stock,
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.bins[1].id,
            product_id=product.id,
            quantity=5,
        )
        assert "Only 4 free" in str(error)

    def test_more_allocated_than_there_is_cannot_be_picked(self, stocked, product):
        services.allocate_stock(balance_id=balance(stocked.bins[0], product).id, quantity=3)
        refused(
            InsufficientStock,
            services.move_stock,
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.staging.id,
            product_id=product.id,
            quantity=4,
            allocated=True,
        )

    def test_nothing_there(self, site, product):
        # The target row the move would have created is rolled back with the refusal.
        refused(
            InsufficientStock,
            services.move_stock,
            from_location_id=site.bins[0].id,
            to_location_id=site.bins[1].id,
            product_id=product.id,
            quantity=1,
        )
        assert not StockBalance.objects.exists()

    def test_wrong_status(self, stocked, product):
        refused(
            InsufficientStock,
            services.change_stock_status,
            location_id=stocked.bins[0].id,
            product_id=product.id,
            quantity=1,
            from_status=QUARANTINE,
            to_status=AVAILABLE,
            reason=Reason.RELEASE,
        )

    def test_empty_target_row_from_a_refused_move_is_rolled_back(self, stocked, product):
        services.allocate_stock(balance_id=balance(stocked.bins[0], product).id, quantity=20)
        refused(
            InsufficientStock,
            services.move_stock,
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.bins[3].id,
            product_id=product.id,
            quantity=1,
        )
        assert not StockBalance.objects.filter(location=stocked.bins[3]).exists()


class TestCapacity:
    def test_weight_limit(self, site, product):
        # 1.5 kg each into a 1,000 kg bin: 666 fit (999 kg), 667 do not.
        error = refused(
            CapacityExceeded,
            services.receive_stock,
            location_id=site.bins[0].id,
            product_id=product.id,
            quantity=667,
        )
        assert "kg" in str(error)
        services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=666)
        refused(
            CapacityExceeded,
            services.receive_stock,
            location_id=site.bins[0].id,
            product_id=product.id,
            quantity=1,
        )

    def test_weight_limit_counts_every_product_and_status(self, site, product):
        other = wf.make_product(unit_weight_kg=Decimal(10))
        services.receive_stock(location_id=site.bins[0].id, product_id=other.id, quantity=50)
        services.receive_stock(
            location_id=site.bins[0].id, product_id=other.id, quantity=20, status=QUARANTINE
        )
        # 700 kg already there: 200 x 1.5 kg = 300 kg fits exactly, 201 does not.
        refused(
            CapacityExceeded,
            services.receive_stock,
            location_id=site.bins[0].id,
            product_id=product.id,
            quantity=201,
        )
        services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=200)

    def test_volume_limit(self, site):
        bulky = wf.make_product(unit_weight_kg=Decimal("0.1"), unit_volume_m3=Decimal("0.5"))
        error = refused(
            CapacityExceeded,
            services.receive_stock,
            location_id=site.bins[0].id,
            product_id=bulky.id,
            quantity=5,
        )
        assert "m3" in str(error)
        services.receive_stock(location_id=site.bins[0].id, product_id=bulky.id, quantity=4)

    def test_move_into_a_full_bin(self, site):
        bulky = wf.make_product(unit_weight_kg=Decimal("0.1"), unit_volume_m3=Decimal("0.5"))
        services.receive_stock(location_id=site.dock.id, product_id=bulky.id, quantity=10)
        services.move_stock(
            from_location_id=site.dock.id,
            to_location_id=site.bins[0].id,
            product_id=bulky.id,
            quantity=3,
        )
        refused(
            CapacityExceeded,
            services.move_stock,
            from_location_id=site.dock.id,
            to_location_id=site.bins[0].id,
            product_id=bulky.id,
            quantity=2,
        )

    def test_unlimited_locations(self, site, product):
        services.receive_stock(location_id=site.dock.id, product_id=product.id, quantity=100_000)
        assert balance(site.dock, product).quantity == 100_000


class TestLocationRules:
    def test_ambient_product_into_a_chilled_bin(self, site, product):
        error = refused(
            StorageClassMismatch,
            services.receive_stock,
            location_id=site.chilled_bins[0].id,
            product_id=product.id,
            quantity=1,
        )
        assert "chilled" in str(error)

    def test_chilled_product_into_an_ambient_bin_by_move(self, site, lot_product):
        lot = wf.make_lot(lot_product)
        services.receive_stock(
            location_id=site.dock.id, product_id=lot_product.id, quantity=5, lot_id=lot.id
        )
        refused(
            StorageClassMismatch,
            services.move_stock,
            from_location_id=site.dock.id,
            to_location_id=site.bins[0].id,
            product_id=lot_product.id,
            lot_id=lot.id,
            quantity=5,
        )

    def test_dock_and_quarantine_take_any_storage_class(self, site, lot_product):
        lot = wf.make_lot(lot_product)
        services.receive_stock(
            location_id=site.dock.id, product_id=lot_product.id, quantity=5, lot_id=lot.id
        )
        services.receive_stock(
            location_id=site.quarantine.id,
            product_id=lot_product.id,
            quantity=5,
            lot_id=lot.id,
            status=QUARANTINE,
        )
        assert StockBalance.objects.filter(product=lot_product).count() == 2

    def test_inactive_location(self, stocked, product):
        stocked.bins[1].is_active = False
        stocked.bins[1].save()
        refused(
            LocationInactive,
            services.move_stock,
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.bins[1].id,
            product_id=product.id,
            quantity=1,
        )
        refused(
            LocationInactive,
            services.receive_stock,
            location_id=stocked.bins[1].id,
            product_id=product.id,
            quantity=1,
        )

    def test_stock_can_leave_an_inactive_location(self, stocked, product):
        stocked.bins[0].is_active = False
        stocked.bins[0].save()
        services.move_stock(
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.bins[1].id,
            product_id=product.id,
            quantity=20,
        )
        assert balance(stocked.bins[1], product).quantity == 20


class TestLots:
    def test_lot_tracked_product_without_lot(self, site, lot_product):
        refused(
            LotMismatch,
            services.receive_stock,
            location_id=site.chilled_bins[0].id,
            product_id=lot_product.id,
            quantity=1,
        )

    def test_lot_of_another_product(self, site, product, lot_product):
        foreign = wf.make_lot(lot_product, "FOREIGN")
        refused(
            LotMismatch,
            services.receive_stock,
            location_id=site.bins[0].id,
            product_id=product.id,
            quantity=1,
            lot_id=foreign.id,
        )
        other_lot_tracked = wf.make_product(storage_class="chilled", is_lot_tracked=True)
        refused(
            LotMismatch,
            services.receive_stock,
            location_id=site.chilled_bins[0].id,
            product_id=other_lot_tracked.id,
            quantity=1,
            lot_id=foreign.id,
        )

    def test_lots_are_separate_balances(self, site, lot_product):
        first, second = wf.make_lot(lot_product, "L-1"), wf.make_lot(lot_product, "L-2")
        bin_id = site.chilled_bins[0].id
        services.receive_stock(
            location_id=bin_id, product_id=lot_product.id, quantity=3, lot_id=first.id
        )
        services.receive_stock(
            location_id=bin_id, product_id=lot_product.id, quantity=4, lot_id=second.id
        )
        refused(
            InsufficientStock,
            services.adjust_stock,
            location_id=bin_id,
            product_id=lot_product.id,
            lot_id=first.id,
            delta=-4,
        )
        assert balance(site.chilled_bins[0], lot_product, lot=second).quantity == 4


class TestInvalidQuantity:
    @pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "3"])
    def test_quantity_must_be_a_positive_integer(self, site, product, quantity):
        refused(
            InvalidQuantity,
            services.receive_stock,
            location_id=site.dock.id,
            product_id=product.id,
            quantity=quantity,
        )

    def test_same_place_on_both_sides(self, stocked, product):
        refused(
            InvalidQuantity,
            services.move_stock,
            from_location_id=stocked.bins[0].id,
            to_location_id=stocked.bins[0].id,
            product_id=product.id,
            quantity=1,
        )
        refused(
            InvalidQuantity,
            services.change_stock_status,
            location_id=stocked.bins[0].id,
            product_id=product.id,
            quantity=1,
            from_status=AVAILABLE,
            to_status=AVAILABLE,
            reason=Reason.RELEASE,
        )

    def test_a_move_needs_a_side(self, product):
        refused(
            InvalidQuantity,
            services.post_move,
            product_id=product.id,
            quantity=1,
            source=None,
            target=None,
            reason=Reason.ADJUST,
        )

    def test_only_available_stock_travels_allocated(self, stocked, product):
        refused(
            InvalidQuantity,
            services.post_move,
            product_id=product.id,
            quantity=1,
            source=Place(stocked.bins[0].id),
            target=Place(stocked.quarantine.id, QUARANTINE),
            allocated=True,
            reason=Reason.QUARANTINE,
        )


class TestStockAvailableListener:
    @pytest.fixture
    def heard(self, monkeypatch) -> list[tuple[int, int]]:
        calls: list[tuple[int, int]] = []
        # A fresh registry, so listeners registered by other apps do not run in these tests.
        monkeypatch.setattr(events, "_listeners", [])
        events.register_stock_available_listener(lambda w, p: calls.append((w, p)))
        return calls

    def test_tells_listeners_in_the_transaction_for_a_storage_bin(self, site, product, heard):
        # Listeners hear inside the transaction, so the work they record (warehouse.outbox)
        # commits or rolls back with the stock change.
        with transaction.atomic():
            services.receive_stock(location_id=site.dock.id, product_id=product.id, quantity=5)
            assert heard == []  # the dock is not stock anyone can allocate
            services.move_stock(
                from_location_id=site.dock.id,
                to_location_id=site.bins[0].id,
                product_id=product.id,
                quantity=5,
            )
            assert heard == [(site.warehouse.id, product.id)]

    def test_release_from_quarantine_in_a_bin_fires(
        self, site, product, heard, django_capture_on_commit_callbacks
    ):
        services.receive_stock(
            location_id=site.bins[0].id, product_id=product.id, quantity=5, status=QUARANTINE
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.change_stock_status(
                location_id=site.bins[0].id,
                product_id=product.id,
                quantity=5,
                from_status=QUARANTINE,
                to_status=AVAILABLE,
                reason=Reason.RELEASE,
            )
        assert heard == [(site.warehouse.id, product.id)]

    def test_silent_for_dock_quarantine_staging_and_allocated_stock(
        self, site, product, heard, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            services.receive_stock(location_id=site.dock.id, product_id=product.id, quantity=5)
            services.receive_stock(
                location_id=site.quarantine.id,
                product_id=product.id,
                quantity=5,
                status=QUARANTINE,
            )
            services.receive_stock(
                location_id=site.bins[0].id, product_id=product.id, quantity=5, status=QUARANTINE
            )
            services.move_stock(
                from_location_id=site.dock.id,
                to_location_id=site.staging.id,
                product_id=product.id,
                quantity=5,
            )
        assert callbacks == []
        assert heard == []

    def test_silent_when_the_move_is_refused(
        self, site, product, heard, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(CapacityExceeded),
        ):
            services.receive_stock(
                location_id=site.bins[0].id, product_id=product.id, quantity=10_000
            )
        assert callbacks == []
        assert heard == []


class TestReconcileCommand:
    def test_clean_ledger(self, stocked, product, capsys):
        call_command("reconcile_stock")
        assert "reconciles" in capsys.readouterr().out

    def test_corrupted_balance_fails(self, stocked, product, capsys):
        row = balance(stocked.bins[0], product)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE warehouse_stockbalance SET quantity = quantity + 1 WHERE id = %s", [row.id]
            )
        with pytest.raises(CommandError) as error:
            call_command("reconcile_stock")
        # manage.py exits with CommandError.returncode.
        assert error.value.returncode != 0
        err = capsys.readouterr().err
        assert f"location={stocked.bins[0].id} product={product.id}" in err
        assert "balance 21 != ledger 20" in err
        # Put it right so the autouse reconciliation check of this module passes.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE warehouse_stockbalance SET quantity = quantity - 1 WHERE id = %s", [row.id]
            )
        call_command("reconcile_stock")

    def test_balance_without_any_move_fails(self, site, product):
        services.receive_stock(location_id=site.dock.id, product_id=product.id, quantity=1)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO warehouse_stockbalance "
                "(location_id, product_id, status, quantity, allocated, updated_at) "
                "VALUES (%s, %s, 'available', 2, 0, now())",
                [site.bins[0].id, product.id],
            )
        assert len(list_ledger_mismatches()) == 1
        with pytest.raises(CommandError):
            call_command("reconcile_stock")
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM warehouse_stockbalance WHERE location_id = %s", [site.bins[0].id]
            )


class TestReceiveWithLoadedRows:
    """`receive_stock(product=..., lot=..., location=...)`: the hot receiving path, same rules,
    fewer reads."""

    @pytest.mark.parametrize(("loaded_location", "statements"), [(False, 2), (True, 1)])
    def test_into_a_dock_the_upsert_adds_up_and_the_ledger_follows(
        self, site, lot_product, users, loaded_location, statements, django_assert_num_queries
    ):
        lot = wf.make_lot(lot_product)
        dock = Location.objects.select_related("zone").get(id=site.dock.id)
        moves = []
        for _ in range(2):
            # The location lock (unless the dock floor, which has no limits, is passed in) and
            # ONE statement for the balance upsert and the ledger row; the product and lot are
            # not re-read and the dock has no limits to sum up.
            with django_assert_num_queries(statements):
                moves.append(
                    services.receive_stock(
                        location_id=site.dock.id,
                        product_id=lot_product.id,
                        lot_id=lot.id,
                        quantity=4,
                        reference="receipt:7",
                        actor=users["dock"],
                        product=lot_product,
                        lot=lot,
                        location=dock if loaded_location else None,
                    )
                )
        balance = StockBalance.objects.get(location=site.dock, product=lot_product, lot=lot)
        assert (balance.quantity, balance.allocated, balance.status) == (8, 0, AVAILABLE)
        assert list_ledger_mismatches() == []
        # The returned moves are the saved ledger rows.
        fields = [field.attname for field in StockMove._meta.concrete_fields]
        stored = StockMove.objects.filter(to_location=site.dock, lot=lot).order_by("id")
        assert list(stored.values_list(*fields)) == [
            tuple(getattr(move, field) for field in fields) for move in moves
        ]
        assert moves[0].to_status == AVAILABLE and moves[0].reason == Reason.RECEIPT
        assert moves[0].actor_id == users["dock"].id and not moves[0]._state.adding

    def test_a_loaded_location_with_a_limit_is_read_again_under_its_lock(
        self, site, product, django_assert_num_queries
    ):
        bin_ = site.bins[0]
        Location.objects.filter(id=bin_.id).update(max_weight_kg=Decimal("3"))
        # What the caller read before the limit was lowered: the check must not trust it.
        stale = Location.objects.select_related("zone").get(id=bin_.id)
        stale.max_weight_kg = Decimal("1000")
        before = snapshot()
        with django_assert_num_queries(2), pytest.raises(CapacityExceeded):
            # The location lock (a fresh read) and the load of the bin.
            services.receive_stock(
                location_id=bin_.id,
                product_id=product.id,
                quantity=3,
                product=product,
                location=stale,
            )
        assert snapshot() == before

    def test_a_loaded_inactive_location_or_wrong_storage_class_is_refused(self, site, product):
        dock = Location.objects.select_related("zone").get(id=site.dock.id)
        dock.is_active = False
        chilled = Location.objects.select_related("zone").get(id=site.chilled_bins[0].id)
        before = snapshot()
        with pytest.raises(LocationInactive):
            services.receive_stock(
                location_id=dock.id,
                product_id=product.id,
                quantity=1,
                product=product,
                location=dock,
            )
        with pytest.raises(StorageClassMismatch):
            services.receive_stock(
                location_id=chilled.id,
                product_id=product.id,
                quantity=1,
                product=product,
                location=chilled,
            )
        assert snapshot() == before

    def test_a_loaded_row_of_another_location_is_not_used(self, site, product):
        other = Location.objects.select_related("zone").get(id=site.staging.id)
        services.receive_stock(
            location_id=site.dock.id,
            product_id=product.id,
            quantity=2,
            product=product,
            location=other,
        )
        assert balance(site.dock, product).quantity == 2
        assert not StockBalance.objects.filter(location=site.staging).exists()

    def test_the_two_statement_path_of_sqlite_writes_the_same_rows(
        self, site, lot_product, monkeypatch
    ):
        """SQLite (the embedded default) has no data-modifying CTEs: its path is exercised
        here on PostgreSQL, whose SQL it also speaks."""
        lot = wf.make_lot(lot_product)
        monkeypatch.setattr(connection, "vendor", "sqlite")
        for _ in range(2):
            move = services.receive_stock(
                location_id=site.dock.id,
                product_id=lot_product.id,
                lot_id=lot.id,
                quantity=5,
                product=lot_product,
                lot=lot,
            )
        monkeypatch.undo()
        assert balance(site.dock, lot_product, lot=lot).quantity == 10
        assert StockMove.objects.get(id=move.id).quantity == 5
        assert list_ledger_mismatches() == []

    def test_a_loaded_lot_of_another_product_is_refused_and_the_transaction_goes_on(
        self, site, product, lot_product
    ):
        from django.db import transaction

        foreign = wf.make_lot(lot_product)
        before = snapshot()
        with transaction.atomic():
            with pytest.raises(LotMismatch):
                services.receive_stock(
                    location_id=site.dock.id,
                    product_id=product.id,
                    lot_id=foreign.id,
                    quantity=1,
                    product=product,
                    lot=foreign,
                )
            assert snapshot() == before
            # No savepoint was needed: the refusal came before any write, so the caller's
            # transaction is still usable.
            services.receive_stock(
                location_id=site.dock.id, product_id=product.id, quantity=1, product=product
            )
        assert StockBalance.objects.get(location=site.dock, product=product).quantity == 1

    def test_the_limits_of_a_location_still_hold(self, site, product):
        bin_ = site.bins[0]
        bin_.max_weight_kg = Decimal("3")
        bin_.save(update_fields=["max_weight_kg"])
        before = snapshot()
        with pytest.raises(CapacityExceeded):
            services.receive_stock(
                location_id=bin_.id, product_id=product.id, quantity=3, product=product
            )
        assert snapshot() == before
