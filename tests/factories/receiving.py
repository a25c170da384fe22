"""Builders for inbound rows, going through the receiving services where a state is set."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, time, timedelta

from django.utils import timezone

from receiving import services
from receiving.models import InboundShipment, Receipt, Supplier
from warehouse.models import Product

_serial = itertools.count(1)


def make_supplier(code: str | None = None, **extra) -> Supplier:
    number = next(_serial)
    return Supplier.objects.create(code=code or f"sup-{number}", name=f"Supplier {number}", **extra)


def make_shipment(
    site,
    lines: list[dict],
    *,
    supplier: Supplier | None = None,
    reference: str | None = None,
    expected_arrival: datetime | None = None,
) -> InboundShipment:
    """An announced ASN. `lines` are dicts of LineInput fields with `product` or `sku`."""
    return services.create_shipment(
        warehouse_id=site.warehouse.id,
        supplier_id=(supplier or make_supplier()).id,
        reference=reference or f"ASN-{next(_serial):05d}",
        expected_arrival=expected_arrival or timezone.now() + timedelta(hours=2),
        lines=[
            services.LineInput(
                sku=line["product"].sku
                if isinstance(line.get("product"), Product)
                else line["sku"],
                quantity=line["quantity"],
                pack=line.get("pack"),
                lot_code=line.get("lot_code", ""),
                expiry_date=line.get("expiry_date"),
                sscc=line.get("sscc", ""),
            )
            for line in lines
        ],
    )


def make_open_receipt(site, lines: list[dict], **kwargs) -> Receipt:
    """An ASN that has arrived, with a receipt open on the site's first door."""
    shipment = make_shipment(site, lines, **kwargs)
    services.check_in_shipment(shipment_id=shipment.id)
    return services.open_receipt(shipment_id=shipment.id, door_id=site.doors[0].id)


def local(site, day, hour: int, minute: int = 0) -> datetime:
    """An aware datetime at `hour:minute` on `day` in the site's time zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=site.warehouse.tzinfo)


def scan(client, receipt_id: int, barcode: str, *, key: str | None = None, **fields):
    """POST one scan through the API with a fresh (or the given) Idempotency-Key."""
    return client.post(
        f"/api/v1/receipts/{receipt_id}/scans/",
        {"barcode": barcode, **fields},
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )
