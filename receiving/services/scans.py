"""Scans: what one barcode scanned on the dock receives, into which ASN line and status."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Model, Q
from django.utils import timezone

from receiving import barcodes
from receiving.errors import (
    LotRequired,
    PalletAlreadyReceived,
    ReceiptClosed,
    UnknownPack,
    UnreadableBarcode,
)
from receiving.models import (
    InboundLine,
    InspectionRule,
    Receipt,
    ReceiptScan,
)
from receiving.services.common import (
    Actor,
    lock_shipment,
)
from warehouse import services as inventory
from warehouse.errors import InvalidQuantity
from warehouse.models import (
    Location,
    Lot,
    PackSize,
    Product,
    StockStatus,
    Warehouse,
    Zone,
)
from warehouse.roles import recorded_user


@dataclass
class ScanItem:
    """What one scan did to one ASN line."""

    scan: ReceiptScan
    line: InboundLine
    product: Product
    lot: Lot | None


@dataclass
class ScanResult:
    items: list[ScanItem]
    warnings: list[dict[str, str]] = field(default_factory=list)
    sscc: str = ""


@dataclass(frozen=True)
class _ReceiptFacts:
    id: int
    status: str
    shipment_id: int
    warehouse_id: int
    supplier_id: int
    supplier_inspects: bool
    time_zone: str
    dock_location_id: int | None
    # The door's dock floor location with its zone, as `warehouse.services.receive_stock` reads
    # it (None if the door has lost its location: the inventory service then refuses the scan).
    dock_location: Location | None


@dataclass(frozen=True)
class ScannedProduct:
    """The product a GTIN stands for, in the units of the scanned pack."""

    product: Product
    units: int
    pack_name: str | None
    needs_inspection: bool
    # The product's lot with the scanned lot code, if it exists yet.
    lot: Lot | None


# Everything the scan path and `warehouse.services.receive_stock` read of the dock location
# and its zone (`check_location_accepts`, and the zone's kind for the stock-available event).
_LOCATION_COLUMNS = ("id", "warehouse_id", "code", "is_active", "max_weight_kg", "max_volume_m3")
_ZONE_COLUMNS = ("id", "kind", "storage_class")

# Everything the scan path and `warehouse.services.receive_stock` read of the product (the
# latter checks storage class and unit weight and volume against the dock location).
_PRODUCT_COLUMNS = (
    "id",
    "sku",
    "name",
    "gtin",
    "base_unit",
    "is_lot_tracked",
    "storage_class",
    "unit_weight_kg",
    "unit_volume_m3",
)


def _lock_receipt_shared(
    receipt_id: int, actor: Actor, gtin: str | None, lot_code: str | None
) -> tuple[_ReceiptFacts, ScannedProduct | None]:
    """Read the receipt with a SHARE row lock (see the module's lock policy), its dock location,
    the product `gtin` stands for (as the product's own GTIN or a pack size's) and that
    product's lot `lot_code`, in ONE query: this is the hot path of every scan.

    A receipt of a warehouse the actor is not staff of does not exist for them: the same
    Receipt.DoesNotExist (404) as an unknown id. `actor=None` (internal callers) sees all.
    """
    user = recorded_user(actor)
    sees_all = user is None or user.is_superuser
    postgresql = connection.vendor == "postgresql"
    lock = "FOR SHARE OF r" if postgresql else ""
    # Each half is planned on its own (MATERIALIZED): planning one join of all these tables took
    # PostgreSQL ~1 ms, several times what executing the whole query takes (when the statement
    # is prepared, see DATABASES in config/settings.py, it is planned once per connection).
    materialized = "MATERIALIZED" if postgresql else ""
    staff_table = Warehouse.staff.through._meta.db_table
    location_columns = ", ".join(
        [*(f"l.{column}" for column in _LOCATION_COLUMNS), *(f"z.{c}" for c in _ZONE_COLUMNS)]
    )
    product_columns = ", ".join(
        f"COALESCE(p.{column}, pp.{column}) AS {column}"
        for column in (*_PRODUCT_COLUMNS, "min_remaining_shelf_life_days", "is_active")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH receipt AS {materialized} (
                SELECT r.id, r.status, s.id, s.warehouse_id, s.supplier_id,
                       sup.requires_inspection, w.time_zone, {location_columns}
                FROM receiving_receipt r
                JOIN receiving_inboundshipment s ON s.id = r.shipment_id
                JOIN receiving_supplier sup ON sup.id = s.supplier_id
                JOIN warehouse_dockdoor d ON d.id = r.door_id
                JOIN warehouse_warehouse w ON w.id = s.warehouse_id
                LEFT JOIN warehouse_location l ON l.id = d.location_id
                LEFT JOIN warehouse_zone z ON z.id = l.zone_id
                WHERE r.id = %s AND (%s OR EXISTS (
                    SELECT 1 FROM {staff_table} ws
                    WHERE ws.warehouse_id = s.warehouse_id AND ws.user_id = %s))
                {lock}
            ), scanned AS {materialized} (
                SELECT {product_columns}, ps.quantity AS pack_quantity, ps.name AS pack_name,
                       lot.id AS lot_id, lot.expiry_date AS lot_expiry_date
                FROM (SELECT 1) AS one
                LEFT JOIN warehouse_product p ON p.gtin = %s
                LEFT JOIN warehouse_packsize ps ON ps.gtin = %s AND p.id IS NULL
                LEFT JOIN warehouse_product pp ON pp.id = ps.product_id
                LEFT JOIN warehouse_lot lot
                    ON lot.product_id = COALESCE(p.id, pp.id) AND lot.code = %s
            )
            SELECT receipt.*, scanned.*, EXISTS (
                SELECT 1 FROM receiving_inspectionrule ir
                WHERE ir.product_id = scanned.id AND ir.requires_inspection
                  AND (ir.supplier_id IS NULL OR ir.supplier_id = receipt.supplier_id))
            FROM receipt CROSS JOIN scanned
            """,
            [receipt_id, sees_all, user.id if user is not None else None, gtin, gtin, lot_code],
        )
        row = cursor.fetchone()
    if row is None:
        raise Receipt.DoesNotExist(f"No receipt {receipt_id}.")
    values = iter(row)
    receipt = [next(values) for _ in range(7)]
    location = _field_values(Location, _LOCATION_COLUMNS, values)
    zone = _field_values(Zone, _ZONE_COLUMNS, values)
    dock_location = None
    if location["id"] is not None:
        # Only the fields the checks read; the instances are never saved.
        dock_location = Location(**location, zone_id=zone["id"], zone=Zone(**zone))
    facts = _ReceiptFacts(
        *receipt[:5],
        supplier_inspects=bool(receipt[5]),
        time_zone=receipt[6],
        dock_location_id=location["id"],
        dock_location=dock_location,
    )
    product = _field_values(Product, (*_PRODUCT_COLUMNS, "min_remaining_shelf_life_days"), values)
    is_active, pack_quantity, pack_name, lot_id, lot_expiry, has_rule = values
    if product["id"] is None or not is_active:
        return facts, None
    lot = None
    if lot_id is not None:
        expiry = Lot._meta.get_field("expiry_date").to_python(lot_expiry)
        lot = Lot(id=lot_id, product_id=product["id"], code=lot_code, expiry_date=expiry)
    return facts, ScannedProduct(
        product=Product(**product),
        units=pack_quantity or 1,
        pack_name=pack_name,
        needs_inspection=facts.supplier_inspects or bool(has_rule),
        lot=lot,
    )


# --- the parts of a scan that inbound receipts and return receipts share ----------------------


def parse_barcode(barcode: str) -> barcodes.Scan:
    """The scanner data read as GS1 (element string or HRI) or a plain GTIN/EAN/UPC/SSCC.

    Raises UnreadableBarcode (422) with the parser's reason.
    """
    try:
        return _parse_scan(barcode, _separator_substitutes(), date.today())
    except barcodes.BarcodeError as error:
        raise UnreadableBarcode(error.message, reason=error.code) from error


# A dock scans the same case labels over and over, and parsing a GS1 label costs more CPU than
# a database round trip. The parsed Scan is immutable; the day is part of the key because a
# two-digit expiry year is read in a window around today. Refusals are not cached.
@functools.lru_cache(maxsize=4096)
def _parse_scan(barcode: str, separators: tuple[str, ...], today: date) -> barcodes.Scan:
    return barcodes.parse_scan(barcode, separator_substitutes=separators)


def check_scan_quantity(quantity: int | None) -> None:
    """Raise InvalidQuantity (400) unless a typed-in count is absent or at least 1."""
    if quantity is not None and (isinstance(quantity, bool) or quantity < 1):
        raise InvalidQuantity("Quantity must be at least 1.")


def scanned_units(
    *, scan: barcodes.Scan, scanned: ScannedProduct, pack: str | None, quantity: int | None
) -> int:
    """Base units one product scan counts: AI 37, else `quantity`, else 1, of the scanned pack
    (a pack GTIN, or `pack`). Raises UnknownPack (422) and InvalidQuantity (400)."""
    product, units, pack_name = scanned.product, scanned.units, scanned.pack_name
    if pack:
        if pack_name is not None and pack != pack_name:
            raise UnknownPack(
                f"The barcode is already a {pack_name} of {product.sku}; do not send pack {pack!r}."
            )
        if pack_name is None:
            try:
                units = product.units_per(pack)
            except PackSize.DoesNotExist:
                raise UnknownPack(f"{product.sku} has no pack size {pack!r}.") from None
    count = scan.count if scan.count is not None else (quantity or 1)
    if count < 1:
        raise InvalidQuantity("The barcode counts 0 items.")
    return count * units


def scanned_lot(*, scan: barcodes.Scan, scanned: ScannedProduct) -> Lot | None:
    """The lot a scan of a lot-tracked product names (created on first sight with the expiry
    of AI 17); None for other products. Raises LotRequired (422) when the label has no lot."""
    product = scanned.product
    if not product.is_lot_tracked:
        return None
    if not scan.lot:
        raise LotRequired(
            f"{product.sku} is lot-tracked: scan the label with the lot number (AI 10)."
        )
    return _get_lot(product, scan.lot, scan.expiry, found=scanned.lot)


def find_scanned_product(gtin: str, lot_code: str | None) -> ScannedProduct | None:
    """The active product `gtin` stands for (its own GTIN or a pack size's) and its lot
    `lot_code` if that exists yet; None for an unknown GTIN. For scan paths other than the
    inbound receipt's, which reads all this with its receipt in one query."""
    product = Product.objects.filter(gtin=gtin, is_active=True).first()
    units, pack_name = 1, None
    if product is None:
        pack = PackSize.objects.select_related("product").filter(gtin=gtin).first()
        if pack is None or not pack.product.is_active:
            return None
        product, units, pack_name = pack.product, pack.quantity, pack.name
    lot = Lot.objects.filter(product=product, code=lot_code).first() if lot_code else None
    return ScannedProduct(
        product=product, units=units, pack_name=pack_name, needs_inspection=False, lot=lot
    )


def _field_values(model: type[Model], columns: Sequence[str], values: Iterator) -> dict:
    """The next raw values of `values` as the model's field values. SQLite gives a computed
    column (COALESCE, or one read through a CTE) no declared type, so its decimals arrive as
    floats and its booleans as integers."""
    fields = [model._meta.get_field(column) for column in columns]
    row = [next(values) for _ in columns]
    return {
        field.attname: value if value is None else field.to_python(value)
        for field, value in zip(fields, row, strict=True)
    }


def _needs_inspection(facts: _ReceiptFacts, product_id: int) -> bool:
    if facts.supplier_inspects:
        return True
    return InspectionRule.objects.filter(
        Q(supplier__isnull=True) | Q(supplier_id=facts.supplier_id),
        product_id=product_id,
        requires_inspection=True,
    ).exists()


def _get_lot(product: Product, code: str, expiry: date | None, found: Lot | None = None) -> Lot:
    """The product's lot `code`, created on first sight with `expiry`; an existing lot without
    an expiry takes it. `found` is the lot when the caller has already read it."""
    lot = found
    if lot is None:
        lot, created = Lot.objects.get_or_create(
            product=product, code=code, defaults={"expiry_date": expiry}
        )
        if created:
            return lot
    if lot.expiry_date is None and expiry is not None:
        Lot.objects.filter(id=lot.id, expiry_date__isnull=True).update(expiry_date=expiry)
        lot.expiry_date = expiry
    return lot


def _pick_line(lines: Sequence[InboundLine], lot_code: str) -> InboundLine | None:
    """The ASN line a scan of this product/lot counts against, preferring one not yet full."""
    exact = [line for line in lines if lot_code and line.lot_code == lot_code]
    open_lot = [line for line in lines if line.is_expected and not line.lot_code]
    for candidates in (exact, open_lot):
        if candidates:
            for line in candidates:
                if line.received_quantity < line.expected_quantity:
                    return line
            return candidates[-1]
    return None


# What a scan reads of an ASN line, in the model's field order (as `Model.from_db` takes them).
_LINE_FIELDS = (
    "id",
    "shipment_id",
    "line_number",
    "product_id",
    "expected_quantity",
    "lot_code",
    "is_expected",
    "received_quantity",
    "damaged_quantity",
)


def _lock_lines(shipment_id: int, product_id: int) -> list[InboundLine]:
    """The ASN's lines of the product, locked in id order (the lock policy of this package).

    The fields a scan does not read are left deferred (loaded if ever accessed).
    """
    lock = "FOR NO KEY UPDATE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_LINE_FIELDS)} FROM {InboundLine._meta.db_table} "
            f"WHERE shipment_id = %s AND product_id = %s ORDER BY id {lock}",
            [shipment_id, product_id],
        )
        rows = cursor.fetchall()
    return [InboundLine.from_db(connection.alias, _LINE_FIELDS, row) for row in rows]


def _line_for_scan(facts: _ReceiptFacts, product: Product, lot_code: str) -> InboundLine:
    lines = _lock_lines(facts.shipment_id, product.id)
    line = _pick_line(lines, lot_code)
    if line is not None:
        return line
    # An unexpected product or lot: lock the ASN so two scanners don't both add a line.
    lock_shipment(facts.shipment_id)
    lines = _lock_lines(facts.shipment_id, product.id)
    line = _pick_line(lines, lot_code) or next(
        (line for line in lines if not line.is_expected and line.lot_code == lot_code), None
    )
    if line is not None:
        return line
    last = InboundLine.objects.filter(shipment_id=facts.shipment_id).aggregate(n=Max("line_number"))
    return InboundLine.objects.create(
        shipment_id=facts.shipment_id,
        line_number=(last["n"] or 0) + 1,
        product=product,
        expected_quantity=0,
        lot_code=lot_code,
        is_expected=False,
    )


def _receive_on_line(
    *,
    facts: _ReceiptFacts,
    line: InboundLine,
    product: Product,
    lot: Lot | None,
    quantity: int,
    is_damaged: bool,
    needs_inspection: bool,
    barcode: str,
    sscc: str,
    actor: Actor,
) -> ScanItem:
    if is_damaged:
        status = StockStatus.DAMAGED
    elif needs_inspection:
        status = StockStatus.QUARANTINE
    else:
        status = StockStatus.AVAILABLE
    move = inventory.receive_stock(
        location_id=facts.dock_location_id,
        product_id=product.id,
        quantity=quantity,
        lot_id=lot.id if lot else None,
        status=status,
        reference=f"receipt:{facts.id}",
        actor=actor,
        product=product,
        lot=lot,
        location=facts.dock_location,
    )
    scan = ReceiptScan(
        receipt_id=facts.id,
        line_id=line.id,
        barcode=barcode[:200],
        product_id=product.id,
        lot_id=lot.id if lot else None,
        quantity=quantity,
        status=status,
        is_damaged=is_damaged,
        sscc=sscc,
        stock_move_id=move.id,
        scanned_by=recorded_user(actor),
        scanned_at=timezone.now(),
    )
    _count_on_line_and_record(scan, line)
    # The line is locked, so the running totals seen here are the committed ones.
    line.received_quantity += quantity
    line.damaged_quantity += quantity if is_damaged else 0
    return ScanItem(scan=scan, line=line, product=product, lot=lot)


# The columns of a ReceiptScan row as the raw INSERT of `_count_on_line_and_record` writes them.
_SCAN_COLUMNS = (
    "receipt_id",
    "line_id",
    "barcode",
    "product_id",
    "lot_id",
    "quantity",
    "status",
    "is_damaged",
    "sscc",
    "stock_move_id",
    "scanned_by_id",
    "scanned_at",
)


def _count_on_line_and_record(scan: ReceiptScan, line: InboundLine) -> None:
    """Add the unsaved `scan` to the running totals of its (locked) ASN line and save it.

    On PostgreSQL ONE statement: the line's UPDATE is a data-modifying CTE of the scan's INSERT.
    """
    damaged = scan.quantity if scan.is_damaged else 0
    if connection.vendor != "postgresql":
        # SQLite (the embedded development default) has no data-modifying CTEs: two statements.
        InboundLine.objects.filter(id=line.id).update(
            received_quantity=F("received_quantity") + scan.quantity,
            damaged_quantity=F("damaged_quantity") + damaged,
        )
        scan.save(force_insert=True)
        return
    params = [getattr(scan, column) for column in _SCAN_COLUMNS]
    params[-1] = connection.ops.adapt_datetimefield_value(scan.scanned_at)
    lines = InboundLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH line AS (UPDATE {lines} SET received_quantity = received_quantity + %s, "
            "damaged_quantity = damaged_quantity + %s WHERE id = %s) "
            f"INSERT INTO {ReceiptScan._meta.db_table} ({', '.join(_SCAN_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(_SCAN_COLUMNS))}) RETURNING id",
            [scan.quantity, damaged, line.id, *params],
        )
        scan.id = cursor.fetchone()[0]
    scan._state.adding = False
    scan._state.db = connection.alias


def _warnings(items: Sequence[ScanItem], today: date) -> list[dict[str, str]]:
    warnings: list[dict[str, str]] = []
    for item in items:
        line, product, lot = item.line, item.product, item.lot
        if not line.is_expected:
            warnings.append(
                {
                    "code": "unexpected",
                    "message": f"{product.sku}{' lot ' + line.lot_code if line.lot_code else ''} "
                    "is not on this ASN; it is received and reported as a discrepancy.",
                }
            )
        elif line.received_quantity > line.expected_quantity:
            warnings.append(
                {
                    "code": "over_receipt",
                    "message": f"Line {line.line_number} ({product.sku}): "
                    f"{line.received_quantity} received, {line.expected_quantity} expected.",
                }
            )
        if lot is not None and lot.expiry_date is not None:
            if lot.expiry_date < today:
                warnings.append(
                    {
                        "code": "expired",
                        "message": f"Lot {lot.code} of {product.sku} expired on {lot.expiry_date}.",
                    }
                )
            elif (lot.expiry_date - today).days < product.min_remaining_shelf_life_days:
                warnings.append(
                    {
                        "code": "short_dated",
                        "message": f"Lot {lot.code} of {product.sku} expires on {lot.expiry_date}: "
                        f"less than the {product.min_remaining_shelf_life_days} days of shelf "
                        "life customers must get.",
                    }
                )
    return warnings


# savepoint=False: one scan is all or nothing within the caller's transaction anyway, and the
# savepoint would cost two round trips per scan.
@transaction.atomic(savepoint=False)
def receive_scan(
    *,
    receipt_id: int,
    barcode: str,
    quantity: int | None = None,
    pack: str | None = None,
    is_damaged: bool = False,
    actor: Actor = None,
) -> ScanResult:
    """Receive what one scan of `barcode` stands for into the receipt's dock location.

    A product barcode (GTIN, or GS1 with 01/02) counts AI 37, else `quantity`, else 1, of the
    scanned pack (a pack GTIN, or `pack`), converted to base units. An SSCC the ASN announced
    receives the whole pallet's expected lines. Lot-tracked products need a lot (AI 10); the
    lot is created on first sight with the expiry of AI 17. Stock lands as `damaged` if
    flagged, else `quarantine` when the supplier or an inspection rule asks for inspection,
    else `available`.

    Raises UnreadableBarcode (422, with the parser's reason, `unknown_gtin` or `unknown_sscc`),
    LotRequired / UnknownPack (422), InvalidQuantity (400), ReceiptClosed and
    PalletAlreadyReceived (409). Nothing is written when it raises. It joins the caller's
    transaction without a savepoint: a caller that goes on after a refused scan must wrap the
    call in its own `transaction.atomic()` (the API's idempotency wrapper does).
    """
    scan = parse_barcode(barcode)
    check_scan_quantity(quantity)
    gtin = scan.gtin or scan.content_gtin
    facts, scanned = _lock_receipt_shared(receipt_id, actor, gtin, scan.lot)
    if facts.status != Receipt.Status.OPEN:
        raise ReceiptClosed(f"Receipt {receipt_id} is {facts.status}; open a new one to receive.")
    today = timezone.localdate(timezone=ZoneInfo(facts.time_zone))
    if gtin is None and scan.sscc:
        items = _receive_pallet(
            facts=facts, sscc=scan.sscc, is_damaged=is_damaged, barcode=barcode, actor=actor
        )
        return ScanResult(items=items, warnings=_warnings(items, today), sscc=scan.sscc)
    if gtin is None:
        raise UnreadableBarcode(
            "The barcode has no GTIN or SSCC: scan the product or pallet label.",
            reason="missing_gtin",
        )
    if scanned is None:
        raise UnreadableBarcode(
            f"No product or pack has GTIN {gtin}. Check the item or receive it by hand.",
            reason="unknown_gtin",
        )
    product = scanned.product
    units = scanned_units(scan=scan, scanned=scanned, pack=pack, quantity=quantity)
    lot = scanned_lot(scan=scan, scanned=scanned)
    line = _line_for_scan(facts, product, lot.code if lot else "")
    item = _receive_on_line(
        facts=facts,
        line=line,
        product=product,
        lot=lot,
        quantity=units,
        is_damaged=is_damaged,
        needs_inspection=scanned.needs_inspection,
        barcode=barcode,
        sscc=scan.sscc or "",
        actor=actor,
    )
    return ScanResult(items=[item], warnings=_warnings([item], today), sscc=scan.sscc or "")


def _receive_pallet(
    *, facts: _ReceiptFacts, sscc: str, is_damaged: bool, barcode: str, actor: Actor
) -> list[ScanItem]:
    lines = list(
        InboundLine.objects.select_for_update(of=("self",), no_key=True)
        .select_related("product")
        .filter(shipment_id=facts.shipment_id, sscc=sscc, is_expected=True)
        .order_by("id")
    )
    if not lines:
        raise UnreadableBarcode(
            f"Pallet {sscc} is not announced on this ASN. Scan the products on it instead.",
            reason="unknown_sscc",
        )
    if any(line.pallet_received_at for line in lines):
        raise PalletAlreadyReceived(f"Pallet {sscc} was already received on this receipt.")
    now = timezone.now()
    items = []
    for line in lines:
        lot = None
        if line.product.is_lot_tracked:
            if not line.lot_code:
                raise LotRequired(
                    f"The ASN gives no lot for {line.product.sku} on pallet {sscc}: scan its "
                    "cases with their lot labels instead."
                )
            lot = _get_lot(line.product, line.lot_code, line.expiry_date)
        items.append(
            _receive_on_line(
                facts=facts,
                line=line,
                product=line.product,
                lot=lot,
                quantity=line.expected_quantity,
                is_damaged=is_damaged,
                needs_inspection=_needs_inspection(facts, line.product_id),
                barcode=barcode,
                sscc=sscc,
                actor=actor,
            )
        )
    InboundLine.objects.filter(id__in=[line.id for line in lines]).update(pallet_received_at=now)
    return items


def _separator_substitutes() -> tuple[str, ...]:
    return tuple(settings.DOCKSIDE.get("GS1_SEPARATOR_SUBSTITUTES", ("|",)))
