"""What a scan reads in its one receipt query keeps every rule: the dock location, the lot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from receiving.barcodes import build_gs1
from receiving.models import InboundLine, ReceiptScan
from tests.factories import receiving as rf
from tests.factories import warehouse as wf
from warehouse.models import Location, Lot, StockBalance, StockMove
from warehouse.selectors import list_ledger_mismatches

pytestmark = pytest.mark.django_db


def written() -> tuple[int, int, int]:
    return ReceiptScan.objects.count(), StockMove.objects.count(), StockBalance.objects.count()


def test_an_existing_lot_is_used_and_takes_the_first_expiry_scanned(
    site, lot_product, api, supplier
):
    other_product = wf.make_product(is_lot_tracked=True, storage_class="chilled")
    other_lot = wf.make_lot(other_product, code="L9", expiry_date=date(2031, 1, 31))
    lot = wf.make_lot(lot_product, code="L9")  # announced without an expiry
    receipt = rf.make_open_receipt(
        site, [{"product": lot_product, "quantity": 5}], supplier=supplier
    )
    label = build_gs1(gtin=lot_product.gtin, lot="L9", expiry=date(2030, 5, 31))
    item = rf.scan(api["dock"], receipt.id, label).json()["items"][0]
    assert (item["lot"], item["expiry_date"]) == ("L9", "2030-05-31")
    lot.refresh_from_db()
    assert lot.expiry_date == date(2030, 5, 31)
    assert ReceiptScan.objects.get(receipt=receipt).lot_id == lot.id
    # A later label with another expiry does not change it; the other product's lot is untouched.
    later = build_gs1(gtin=lot_product.gtin, lot="L9", expiry=date(2030, 6, 30))
    assert rf.scan(api["dock"], receipt.id, later).json()["items"][0]["expiry_date"] == (
        "2030-05-31"
    )
    assert Lot.objects.filter(code="L9").count() == 2
    other_lot.refresh_from_db()
    assert other_lot.expiry_date == date(2031, 1, 31)


def test_a_scan_into_an_inactive_dock_floor_is_refused_and_writes_nothing(
    site, product, api, supplier
):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 5}], supplier=supplier)
    Location.objects.filter(id=site.dock.id).update(is_active=False)
    before = written()
    response = rf.scan(api["dock"], receipt.id, product.gtin)
    assert response.status_code == 409
    assert response.json()["code"] == "location-inactive"
    assert written() == before
    assert InboundLine.objects.get(shipment=receipt.shipment).received_quantity == 0


def test_the_weight_limit_of_a_dock_floor_holds(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 5}], supplier=supplier)
    # The product weighs 1.5 kg: two fit in 3 kg, a third does not.
    Location.objects.filter(id=site.dock.id).update(max_weight_kg=Decimal("3"))
    assert rf.scan(api["dock"], receipt.id, product.gtin, quantity=2).status_code == 201
    before = written()
    response = rf.scan(api["dock"], receipt.id, product.gtin)
    assert response.status_code == 409
    assert response.json()["code"] == "capacity-exceeded"
    assert written() == before
    assert InboundLine.objects.get(shipment=receipt.shipment).received_quantity == 2


def test_the_two_statement_writes_of_sqlite_count_the_same(
    site, product, lot_product, api, supplier, monkeypatch
):
    """SQLite (the embedded default) has no data-modifying CTEs: its path is exercised here on
    PostgreSQL, whose SQL it also speaks, against the same scans on the PostgreSQL path."""

    def receive(label: str) -> dict:
        receipt = rf.make_open_receipt(
            site,
            [{"product": product, "quantity": 5}, {"product": lot_product, "quantity": 5}],
            supplier=supplier,
        )
        body = rf.scan(api["dock"], receipt.id, label, quantity=2).json()
        body = rf.scan(api["dock"], receipt.id, label, damaged=True).json()
        scan = ReceiptScan.objects.get(id=body["items"][0]["scan_id"])
        return {
            "line": {k: v for k, v in body["items"][0]["line"].items() if k != "id"},
            "stored_line": InboundLine.objects.filter(id=scan.line_id)
            .values("received_quantity", "damaged_quantity")
            .get(),
            "scan": (scan.quantity, scan.status, scan.is_damaged, scan.stock_move.quantity),
        }

    for label in (product.gtin, build_gs1(gtin=lot_product.gtin, lot="L1")):
        expected = receive(label)
        monkeypatch.setattr(connection, "vendor", "sqlite")
        assert receive(label) == expected
        monkeypatch.undo()
        assert expected["stored_line"] == {"received_quantity": 3, "damaged_quantity": 1}
    assert list_ledger_mismatches() == []
