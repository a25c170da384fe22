"""The database itself keeps the stock invariants, whoever writes: raw SQL cannot break them.

Each violation runs in its own savepoint (`transaction.atomic()`) so the test transaction
survives the error and the row can be read back unchanged.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.factories import warehouse as wf
from warehouse import services
from warehouse.models import StockBalance, StockMove, StockStatus
from warehouse.models.stock import AppendOnlyError


def _violated_constraint(error: pytest.ExceptionInfo) -> str:
    """The name of the constraint PostgreSQL reported (psycopg's diagnostics)."""
    return error.value.__cause__.diag.constraint_name


def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def balance(site, product) -> StockBalance:
    """10 available units of `product` in the first storage bin, 4 of them allocated."""
    services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=10)
    row = StockBalance.objects.get(location=site.bins[0], product=product)
    services.allocate_stock(balance_id=row.id, quantity=4)
    row.refresh_from_db()
    return row


def _unchanged(row: StockBalance) -> None:
    fresh = StockBalance.objects.get(id=row.id)
    assert (fresh.quantity, fresh.allocated, fresh.status) == (
        row.quantity,
        row.allocated,
        row.status,
    )


@pytest.mark.django_db
class TestBalanceChecks:
    def test_negative_quantity_is_refused(self, balance):
        with pytest.raises(IntegrityError) as error:
            _raw("UPDATE warehouse_stockbalance SET quantity = -1 WHERE id = %s", [balance.id])
        # quantity < 0 with allocated >= 0 also breaks allocated <= quantity; PostgreSQL tests
        # CHECKs in name order and reports the first that fails.
        assert _violated_constraint(error) in {
            "balance_quantity_gte_0",
            "balance_allocated_lte_quantity",
        }
        _unchanged(balance)

    def test_negative_quantity_is_refused_even_with_nothing_allocated(self, site, product):
        services.receive_stock(location_id=site.bins[1].id, product_id=product.id, quantity=3)
        row = StockBalance.objects.get(location=site.bins[1], product=product)
        with pytest.raises(IntegrityError):
            _raw(
                "UPDATE warehouse_stockbalance SET quantity = quantity - 4 WHERE id = %s",
                [row.id],
            )
        _unchanged(row)

    def test_negative_allocated_is_refused(self, balance):
        with pytest.raises(IntegrityError) as error:
            _raw("UPDATE warehouse_stockbalance SET allocated = -1 WHERE id = %s", [balance.id])
        assert _violated_constraint(error) == "balance_allocated_gte_0"
        _unchanged(balance)

    def test_allocated_beyond_quantity_is_refused(self, balance):
        with pytest.raises(IntegrityError) as error:
            _raw(
                "UPDATE warehouse_stockbalance SET allocated = quantity + 1 WHERE id = %s",
                [balance.id],
            )
        assert _violated_constraint(error) == "balance_allocated_lte_quantity"
        _unchanged(balance)

    def test_taking_away_allocated_units_is_refused(self, balance):
        # 10 on hand, 4 promised: the quantity may not drop below what is promised.
        with pytest.raises(IntegrityError) as error:
            _raw("UPDATE warehouse_stockbalance SET quantity = 3 WHERE id = %s", [balance.id])
        assert _violated_constraint(error) == "balance_allocated_lte_quantity"
        _unchanged(balance)

    def test_quarantine_stock_cannot_be_allocated(self, site, product):
        services.receive_stock(
            location_id=site.quarantine.id,
            product_id=product.id,
            quantity=5,
            status=StockStatus.QUARANTINE,
        )
        row = StockBalance.objects.get(location=site.quarantine, product=product)
        with pytest.raises(IntegrityError) as error:
            _raw("UPDATE warehouse_stockbalance SET allocated = 1 WHERE id = %s", [row.id])
        assert _violated_constraint(error) == "balance_only_available_is_allocated"
        _unchanged(row)

    def test_allocated_stock_cannot_be_put_in_quarantine(self, balance):
        with pytest.raises(IntegrityError) as error:
            _raw(
                "UPDATE warehouse_stockbalance SET status = 'quarantine' WHERE id = %s",
                [balance.id],
            )
        assert _violated_constraint(error) == "balance_only_available_is_allocated"
        _unchanged(balance)

    def test_orm_update_is_refused_too(self, balance):
        with pytest.raises(IntegrityError), transaction.atomic():
            StockBalance.objects.filter(id=balance.id).update(allocated=11)
        _unchanged(balance)


def _insert_balance(*, location_id: int, product_id: int, lot_id: int | None, status: str) -> None:
    _raw(
        "INSERT INTO warehouse_stockbalance "
        "(location_id, product_id, lot_id, status, quantity, allocated, updated_at) "
        "VALUES (%s, %s, %s, %s, 1, 0, %s)",
        [location_id, product_id, lot_id, status, timezone.now()],
    )


@pytest.mark.django_db
class TestBalanceUniqueness:
    def test_duplicate_row_without_lot_is_refused(self, site, product):
        services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=2)
        with pytest.raises(IntegrityError) as error:
            _insert_balance(
                location_id=site.bins[0].id,
                product_id=product.id,
                lot_id=None,
                status=StockStatus.AVAILABLE,
            )
        # A plain unique index would let this through: NULL lots are distinct from each other.
        assert _violated_constraint(error) == "balance_unique_without_lot"
        assert StockBalance.objects.filter(location=site.bins[0], product=product).count() == 1

    def test_duplicate_row_with_lot_is_refused(self, site, lot_product):
        lot = wf.make_lot(lot_product, "L-DUP")
        services.receive_stock(
            location_id=site.chilled_bins[0].id,
            product_id=lot_product.id,
            quantity=2,
            lot_id=lot.id,
        )
        with pytest.raises(IntegrityError) as error:
            _insert_balance(
                location_id=site.chilled_bins[0].id,
                product_id=lot_product.id,
                lot_id=lot.id,
                status=StockStatus.AVAILABLE,
            )
        assert _violated_constraint(error) == "balance_unique_with_lot"
        assert StockBalance.objects.filter(product=lot_product).count() == 1

    def test_other_status_or_lot_is_a_separate_row(self, site, lot_product):
        first, second = wf.make_lot(lot_product, "L-A"), wf.make_lot(lot_product, "L-B")
        bin_id = site.chilled_bins[0].id
        _insert_balance(
            location_id=bin_id, product_id=lot_product.id, lot_id=first.id, status="available"
        )
        _insert_balance(
            location_id=bin_id, product_id=lot_product.id, lot_id=second.id, status="available"
        )
        _insert_balance(
            location_id=bin_id, product_id=lot_product.id, lot_id=first.id, status="quarantine"
        )
        assert StockBalance.objects.filter(location_id=bin_id).count() == 3


def _insert_move(*, site, product, quantity: int) -> None:
    _raw(
        "INSERT INTO warehouse_stockmove (warehouse_id, created_at, product_id, quantity, "
        "to_location_id, to_status, from_status, reason, reference, note) "
        "VALUES (%s, %s, %s, %s, %s, 'available', '', 'receipt', '', '')",
        [site.warehouse.id, timezone.now(), product.id, quantity, site.dock.id],
    )


@pytest.mark.django_db
class TestMoveChecks:
    def test_zero_quantity_move_is_refused(self, site, product):
        with pytest.raises(IntegrityError) as error:
            _insert_move(site=site, product=product, quantity=0)
        assert _violated_constraint(error) == "move_quantity_gt_0"
        assert not StockMove.objects.exists()

    def test_zero_quantity_move_is_refused_through_the_orm(self, site, product):
        with pytest.raises(IntegrityError), transaction.atomic():
            StockMove.objects.create(
                warehouse=site.warehouse,
                product=product,
                quantity=0,
                to_location=site.dock,
                to_status=StockStatus.AVAILABLE,
                reason=StockMove.Reason.RECEIPT,
            )
        assert not StockMove.objects.exists()

    def test_move_without_either_side_is_refused(self, site, product):
        with pytest.raises(IntegrityError) as error, transaction.atomic():
            StockMove.objects.create(
                warehouse=site.warehouse,
                product=product,
                quantity=1,
                reason=StockMove.Reason.ADJUST,
            )
        assert _violated_constraint(error) == "move_has_a_side"

    def test_location_without_status_is_refused(self, site, product):
        with pytest.raises(IntegrityError) as error, transaction.atomic():
            StockMove.objects.create(
                warehouse=site.warehouse,
                product=product,
                quantity=1,
                to_location=site.dock,
                to_status="",
                reason=StockMove.Reason.RECEIPT,
            )
        assert _violated_constraint(error) == "move_to_status_with_location"

    def test_a_valid_raw_move_is_accepted(self, site, product):
        # The negative tests above only mean something if the same statement can succeed.
        _insert_move(site=site, product=product, quantity=3)
        assert StockMove.objects.get().quantity == 3


@pytest.fixture
def move(site, product) -> StockMove:
    return services.receive_stock(
        location_id=site.dock.id, product_id=product.id, quantity=7, reference="ASN-1"
    )


def _move_unchanged(move: StockMove) -> None:
    fresh = StockMove.objects.get(id=move.id)
    assert (fresh.quantity, fresh.note, fresh.reference) == (7, "", "ASN-1")


@pytest.mark.django_db
class TestLedgerIsAppendOnly:
    def test_raw_update_is_refused(self, move):
        with pytest.raises(IntegrityError, match="append-only"):
            _raw("UPDATE warehouse_stockmove SET quantity = 70 WHERE id = %s", [move.id])
        _move_unchanged(move)

    def test_raw_update_of_a_harmless_column_is_refused(self, move):
        with pytest.raises(IntegrityError, match="append-only"):
            _raw("UPDATE warehouse_stockmove SET note = 'fixed' WHERE id = %s", [move.id])
        _move_unchanged(move)

    def test_raw_delete_is_refused(self, move):
        with pytest.raises(IntegrityError, match="append-only"):
            _raw("DELETE FROM warehouse_stockmove WHERE id = %s", [move.id])
        _move_unchanged(move)

    def test_orm_queryset_update_is_refused(self, move):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            StockMove.objects.filter(id=move.id).update(note="fixed")
        _move_unchanged(move)

    def test_orm_queryset_delete_is_refused(self, move):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            StockMove.objects.filter(id=move.id).delete()
        _move_unchanged(move)

    def test_orm_instance_save_is_refused(self, move):
        move.note = "fixed"
        with pytest.raises(AppendOnlyError):
            move.save()
        _move_unchanged(move)

    def test_orm_instance_delete_is_refused(self, move):
        with pytest.raises(AppendOnlyError):
            move.delete()
        _move_unchanged(move)

    def test_appending_still_works(self, move, site, product):
        services.move_stock(
            from_location_id=site.dock.id,
            to_location_id=site.bins[0].id,
            product_id=product.id,
            quantity=7,
        )
        assert StockMove.objects.count() == 2
