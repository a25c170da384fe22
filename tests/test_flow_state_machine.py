"""A Hypothesis state machine over the whole flow, through the real services of every app.

Inbound: ASN -> check-in -> receipt -> scans (items, packs, lots, damaged, over the ASN,
unknown items, whole pallets) -> close (with or without a manager's override) -> inspection
of quarantined stock (pass, fail, fail as damaged) -> putaway (the proposed bin or another).
Outbound: order -> allocation (whole or partial, backorders re-allocated) -> wave planned,
released or cancelled -> pick confirmed, short-picked or skipped (by the list's picker, another
picker or a manager; replayed idempotency keys) -> pack -> stage -> load -> dispatch ->
delivery, and cancellations on the way. Warehouse: stock adjusted up and down, and bins
counted (there is no counting service yet: a count is `adjust_stock` with reason `count`,
setting the bin to the counted quantity).

Objects are chosen from Bundles: mostly one in a state its verb accepts, and from separate
"out of turn" rules any one, so illegal transitions are tried too. Every step expects either
success or one of the domain errors its service documents, predicted from the state before
the call where that is cheap; a refused step must leave the database as it was (balances,
ledger length, allocations, order-line counters and every status).

After every step (`flow_holds`):
- every balance has 0 <= allocated <= quantity, and the ledger sums to the balances
  (`warehouse.selectors.list_ledger_mismatches() == []`);
- a balance's `allocated` is exactly the sum of the live allocations on it, RESERVED and PICKED:
  an allocation points at the balance that holds its units (the bin's while reserved, the
  staging location's or lane's once picked, see `shipping.models.Allocation`); SHIPPED and
  RELEASED ones hold nothing. Reserved units sit in storage or pick-face bins, picked ones in
  staging;
- an order line is never over-allocated, and `quantity_allocated` is the sum of its reserved,
  picked and shipped allocations (0 on a cancelled order); `quantity_shipped` is the sum of its
  shipped allocations and of its shipment lines, never more than ordered; the backorder is
  what is not allocated while the order waits or is worked, nothing once dispatched;
- order statuses agree with the work: RELEASED exactly while pick tasks are open, BACKORDERED
  with nothing allocated, ALLOCATED with everything allocated; open pick tasks carry their
  reserved allocation, closed ones the quantity picked;
- units shipped in the ledger equal units shipped on order lines, product by product;
- ASN lines count exactly what their scans received.

The Python model is small and only where it checks something the database cannot check
against itself: units per product and status (received - shipped +/- adjustments, moved
between statuses by inspections), units picked and shipped per order line (from what the
picker confirmed), and the inspections and putaway tasks a closed receipt must open (from its
scans).

Each example runs in a savepoint rolled back in teardown, from the same site. Size: by default
a bounded run for CI (~30-60 s on two cores). For "many runs" set
DOCKSIDE_HYPOTHESIS_EXAMPLES (examples) and DOCKSIDE_HYPOTHESIS_STEPS (steps per example), e.g.
``DOCKSIDE_HYPOTHESIS_EXAMPLES=500 pytest tests/test_flow_state_machine.py -s``; the test
prints how many steps ran and what each verb did.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from receiving import services as inbound
from receiving.errors import (
    DoorNotUsable,
    InvalidAsn,
    LotRequired,
    NotAStorageBin,
    OverReceiptNeedsOverride,
    PalletAlreadyReceived,
    ReceiptClosed,
    UnknownBin,
    UnknownPack,
    UnreadableBarcode,
)
from receiving.models import (
    InboundLine,
    InboundShipment,
    Inspection,
    PutawayTask,
    Receipt,
    ReceiptScan,
    Supplier,
)
from receiving.services import ManagerOverrideRequired
from shipping import services as outbound
from shipping.errors import (
    InvalidDockDoor,
    InvalidPicker,
    InvalidStagingLane,
    LoadOrderViolation,
    NothingToWave,
    NotPacked,
    NotYourPickList,
    OrderNotPickable,
    OverPick,
    WrongBin,
    WrongItem,
    WrongVehicle,
)
from shipping.models import (
    Allocation,
    Customer,
    DeliveryLine,
    Order,
    OrderLine,
    Package,
    PickList,
    PickTask,
    Shipment,
    ShipmentLine,
    Wave,
)
from tests.conftest import make_user
from tests.factories import receiving as rf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse.errors import (
    CapacityExceeded,
    DomainError,
    InsufficientStock,
    InvalidQuantity,
    InvalidTransition,
    StorageClassMismatch,
)
from warehouse.gs1 import make_sscc
from warehouse.models import (
    CountRequest,
    DockDoor,
    Location,
    Lot,
    Product,
    StockBalance,
    StockMove,
    StockStatus,
    Zone,
)
from warehouse.roles import MANAGER, PICKER
from warehouse.selectors import list_ledger_mismatches
from warehouse.services import adjust_stock

AVAILABLE, QUARANTINE, DAMAGED = StockStatus.AVAILABLE, StockStatus.QUARANTINE, StockStatus.DAMAGED
RESERVED, PICKED, SHIPPED, RELEASED = (
    Allocation.Status.RESERVED,
    Allocation.Status.PICKED,
    Allocation.Status.SHIPPED,
    Allocation.Status.RELEASED,
)
OS = Order.Status  # order statuses

# Examples and steps: small enough for CI by default, as large as wanted from the environment.
EXAMPLES = int(os.environ.get("DOCKSIDE_HYPOTHESIS_EXAMPLES", 25))
STEPS = int(os.environ.get("DOCKSIDE_HYPOTHESIS_STEPS", 60))

# What the runs did, summed over every example of the test (printed at the end).
STATS: Counter[str] = Counter()

_serials = itertools.count(1)


@dataclass(frozen=True)
class World:
    """The site every example starts from (built once per test, outside the examples)."""

    warehouse_id: int
    dock_door: DockDoor
    outbound_door: DockDoor
    staging: Location
    lanes: list[Location]
    not_staging: Location
    bins: list[Location]  # every storage and pick-face bin
    locations: list[Location]  # every location, for adjustments and counts
    products: list[Product]
    lots: dict[int, list[Lot]]  # product id -> its lots (lot-tracked products only)
    unknown_gtin: str
    suppliers: list[Supplier]  # [plain, inspecting]
    customers: list[Customer]  # [ordinary, one that wants 300 days of shelf life]
    users: dict[str, User]


@dataclass(frozen=True)
class Ref:
    """An object the machine made: its kind and id. `status` is read from the machine's view of
    the database, refreshed after every step."""

    kind: str
    id: int
    machine: FlowMachine = field(compare=False, repr=False)

    @property
    def status(self) -> str:
        return self.machine.statuses[self.kind].get(self.id, "")

    def __repr__(self) -> str:
        return f"{self.kind}:{self.id}"


def in_state(kind: str, *statuses: str) -> Callable[[Ref], bool]:
    def test(ref: Ref) -> bool:
        return ref.kind == kind and ref.status in statuses

    return test


def of_kind(kind: str) -> Callable[[Ref], bool]:
    return lambda ref: ref.kind == kind


def has(kind: str, *statuses: str) -> Callable[[FlowMachine], bool]:
    """Precondition: some object of `kind` in a bundle is in one of `statuses` (so a bundle
    filtered on them has something to give)."""

    def check(machine: FlowMachine) -> bool:
        known = machine.statuses[kind]
        return any(known.get(object_id) in statuses for object_id in machine.bundled[kind])

    return check


STATUS_MODELS = {
    "asn": InboundShipment,
    "receipt": Receipt,
    "inspection": Inspection,
    "putaway": PutawayTask,
    "order": Order,
    "wave": Wave,
    "pick list": PickList,
    "task": PickTask,
    "shipment": Shipment,
}

# Every status of every kind in one query (run twice a step).
STATUS_QUERY = " UNION ALL ".join(
    f"SELECT '{kind}', id, status FROM {model._meta.db_table}"
    for kind, model in STATUS_MODELS.items()
)

ANNOUNCED = (InboundShipment.Status.ANNOUNCED, InboundShipment.Status.SCHEDULED)
ALLOCATABLE = tuple(Order.ALLOCATABLE)
# ASNs and orders still in the works: the machine keeps a few of each at a time, so its steps
# go to moving them along rather than to making more.
ACTIVE_ASN = (*ANNOUNCED, InboundShipment.Status.ARRIVED, InboundShipment.Status.RECEIVING)
ACTIVE_ORDER = (
    OS.NEW,
    OS.BACKORDERED,
    OS.PARTIALLY_ALLOCATED,
    OS.ALLOCATED,
    OS.RELEASED,
    OS.PICKED,
    OS.PACKED,
)
CANCELLABLE = (OS.NEW, OS.BACKORDERED, OS.PARTIALLY_ALLOCATED, OS.ALLOCATED, OS.RELEASED)
LIVE_SHIPMENT = (
    Shipment.Status.PLANNED,
    Shipment.Status.PACKED,
    Shipment.Status.STAGED,
    Shipment.Status.LOADED,
)


def nonzero(counts: Counter) -> dict:
    """The counts that are not 0 (negative ones kept: the model must never go below 0)."""
    return {key: value for key, value in counts.items() if value}


def scan_as_the_api_does(**kwargs) -> inbound.ScanResult:
    """`receive_scan` in a savepoint of its own, as its docstring asks of a caller that goes on
    after a refused scan (it joins the caller's transaction without one, so any error it raises
    dooms that transaction)."""
    with transaction.atomic():
        return inbound.receive_scan(**kwargs)


def box() -> outbound.PackageSpec:
    return outbound.PackageSpec("box", Decimal("4.2"), Decimal(40), Decimal(30), Decimal(20))


class FlowMachine(RuleBasedStateMachine):
    """Set `world` on a subclass before running."""

    world: World

    asns = Bundle("asns")
    receipts = Bundle("receipts")
    inbound_work = Bundle("inbound_work")  # inspections and putaway tasks
    orders = Bundle("orders")
    waves = Bundle("waves")
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.statuses: dict[str, dict[int, str]] = {kind: {} for kind in STATUS_MODELS}
        # The model: units per (product, status); per order line units picked, shipped and
        # delivered; per receipt the units scanned per (product, lot, status).
        self.units: Counter[tuple[int, str]] = Counter()
        self.picked: Counter[int] = Counter()
        self.shipped: Counter[int] = Counter()
        self.delivered: Counter[int] = Counter()
        self.scanned: dict[int, Counter[tuple[int, int | None, str]]] = defaultdict(Counter)
        self.asn_inspects: dict[int, bool] = {}
        self.applied_keys: list[tuple[int, str]] = []  # (task id, idempotency key)
        # What a refused step must leave as it was: read after every call that succeeded.
        self.last_fingerprint: tuple = self._fingerprint()
        self.checked_fingerprint: tuple | None = None
        self.bundled: dict[str, set[int]] = defaultdict(set)
        STATS["examples"] += 1

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -------------------------------------------------------------------------------

    def ref(self, kind: str, object_id: int) -> Ref:
        return Ref(kind, object_id, self)

    def into_bundle(self, *refs: Ref):
        """What a rule returns to its target bundle; `has` then knows the objects are there."""
        for ref in refs:
            self.bundled[ref.kind].add(ref.id)
        return multiple(*refs)

    def _read_statuses(self) -> dict[str, dict[int, str]]:
        statuses: dict[str, dict[int, str]] = {kind: {} for kind in STATUS_MODELS}
        with connection.cursor() as cursor:
            cursor.execute(STATUS_QUERY)
            for kind, object_id, status in cursor.fetchall():
                statuses[kind][object_id] = status
        return statuses

    def _fingerprint(self) -> tuple:
        """Everything a refused step must leave as it was."""
        return (
            list(StockBalance.objects.order_by("id").values_list("id", "quantity", "allocated")),
            StockMove.objects.count(),
            list(
                Allocation.objects.order_by("id").values_list(
                    "id", "status", "quantity", "balance_id"
                )
            ),
            list(
                OrderLine.objects.order_by("id").values_list(
                    "id",
                    "quantity_allocated",
                    "quantity_backordered",
                    "quantity_picked",
                    "quantity_shipped",
                )
            ),
            list(InboundLine.objects.order_by("id").values_list("id", "received_quantity")),
            list(
                Package.objects.filter(loaded_at__isnull=False)
                .order_by("id")
                .values_list("id", "vehicle_code")
            ),
            self._read_statuses(),
        )

    def _attempt(
        self,
        verb: str,
        call: Callable[[], object],
        *,
        expect: type[DomainError] | None = None,
        may_refuse: tuple[type[DomainError], ...] = (),
    ) -> tuple[bool, object]:
        """Run `call`. `expect`: the error it must raise (None: it must succeed, unless it raises
        one of `may_refuse`). A refusal must leave the database unchanged.

        Returns (succeeded, result).
        """
        STATS["steps"] += 1
        # The state after the last call that wrote: rules only read outside their calls.
        before = self.last_fingerprint
        try:
            result = call()
        except DomainError as error:
            if expect is not None:
                assert isinstance(error, expect), f"{verb}: expected {expect.__name__}: {error!r}"
            else:
                assert isinstance(error, may_refuse), f"{verb}: unexpected refusal {error!r}"
            assert self._fingerprint() == before, f"{verb}: refused ({error!r}) but wrote"
            STATS[f"{verb}: {type(error).__name__}"] += 1
            return False, None
        assert expect is None, f"{verb}: expected {expect.__name__}, but it succeeded"
        STATS[f"{verb}: ok"] += 1
        # The next call's "before"; rules that take an object through several verbs also see
        # each call's result in `statuses`.
        self.last_fingerprint = self._fingerprint()
        self.statuses = self.last_fingerprint[-1]
        return True, result

    def _balance(self, location_id: int, product_id: int, lot_id: int | None, status: str):
        return StockBalance.objects.filter(
            location_id=location_id, product_id=product_id, lot_id=lot_id, status=status
        ).first()

    def _free(self, location_id: int, product_id: int, lot_id: int | None, status: str) -> int:
        balance = self._balance(location_id, product_id, lot_id, status)
        return balance.free if balance else 0

    def _stock_at(self, *places: tuple[int, int, int | None, str]) -> list[tuple[int, int]]:
        """(quantity, allocated) of each (location, product, lot, status), 0 where none."""
        found = []
        for location_id, product_id, lot_id, status in places:
            balance = self._balance(location_id, product_id, lot_id, status)
            found.append((balance.quantity, balance.allocated) if balance else (0, 0))
        return found

    def _user(self, name: str) -> User:
        return self.world.users[name]

    def _fewer_than(self, limit: int, kind: str, *statuses: str) -> bool:
        return sum(status in statuses for status in self.statuses[kind].values()) < limit

    # --- the stock an example starts with ------------------------------------------------------

    @initialize(quantities=st.lists(st.integers(0, 60), min_size=3, max_size=3))
    def stock_the_bins(self, quantities):
        """Receive and put away some of each product through the inbound services, so orders
        can be picked from the first steps (inbound work of the example adds to it)."""
        world = self.world
        dock = self._user("dock")
        lines = [
            inbound.LineInput(
                sku=product.sku,
                quantity=quantity,
                lot_code=world.lots[product.id][0].code if product.is_lot_tracked else "",
                sscc=make_sscc(company_prefix="0950110", serial_reference=next(_serials)),
            )
            for product, quantity in zip(world.products, quantities, strict=True)
            if quantity
        ]
        if lines:
            shipment = inbound.create_shipment(
                warehouse_id=world.warehouse_id,
                supplier_id=world.suppliers[0].id,
                reference=f"ASN-FLOW-{next(_serials)}",
                expected_arrival=timezone.now(),
                lines=lines,
            )
            inbound.check_in_shipment(shipment_id=shipment.id, actor=dock)
            receipt = inbound.open_receipt(
                shipment_id=shipment.id, door_id=world.dock_door.id, actor=dock
            )
            for line in lines:
                inbound.receive_scan(receipt_id=receipt.id, barcode=f"(00){line.sscc}", actor=dock)
            inbound.close_receipt(receipt_id=receipt.id, actor=dock)
            for task in PutawayTask.objects.filter(receipt=receipt).select_related(
                "proposed_location"
            ):
                # Proposals are made at the close, each on its own: two tasks may be proposed
                # the same bin that only one of them fits. Staff then scan another bin.
                proposed = [task.proposed_location] if task.proposed_location else []
                for bin_ in [*proposed, *world.bins]:
                    try:
                        with transaction.atomic():
                            inbound.confirm_putaway(task_id=task.id, bin_code=bin_.code, actor=dock)
                        break
                    except (CapacityExceeded, StorageClassMismatch):
                        continue
                else:
                    raise AssertionError(f"no bin takes putaway task {task.id}")
                self.units[(task.product_id, AVAILABLE)] += task.quantity
        self.last_fingerprint = self._fingerprint()
        self.statuses = self.last_fingerprint[-1]

    # --- inbound -------------------------------------------------------------------------------

    @precondition(lambda self: self._fewer_than(3, "asn", *ACTIVE_ASN))
    @rule(
        target=asns,
        inspects=st.booleans(),
        lines=st.lists(
            st.tuples(
                st.integers(0, 2), st.integers(1, 60), st.sampled_from(["L1", "L2", "L0", ""])
            ),
            min_size=1,
            max_size=3,
        ),
        on_pallet=st.booleans(),
        bad_line=st.integers(0, 9),
    )
    def create_asn(self, inspects, lines, on_pallet, bad_line):
        world = self.world
        sscc = make_sscc(
            company_prefix="0950110", serial_reference=next(_serials), extension_digit=1
        )
        inputs = []
        for index, quantity, lot_code in lines:
            product = world.products[index]
            inputs.append(
                inbound.LineInput(
                    sku=product.sku,
                    quantity=quantity,
                    lot_code=lot_code if product.is_lot_tracked else "",
                    sscc=sscc if on_pallet else "",
                )
            )
        if bad_line == 0:
            inputs.append(inbound.LineInput(sku="NO-SUCH-SKU", quantity=1))
        supplier = world.suppliers[int(inspects)]
        ok, shipment = self._attempt(
            "create_asn",
            lambda: inbound.create_shipment(
                warehouse_id=world.warehouse_id,
                supplier_id=supplier.id,
                reference=f"ASN-FLOW-{next(_serials)}",
                expected_arrival=timezone.now() + dt.timedelta(hours=2),
                lines=inputs,
                actor=self._user("manager"),
            ),
            expect=InvalidAsn if bad_line == 0 else None,
        )
        if not ok:
            return multiple()
        self.asn_inspects[shipment.id] = supplier.requires_inspection
        return self.into_bundle(self.ref("asn", shipment.id))

    def _check_in(self, asn: Ref) -> None:
        self._attempt(
            "check_in",
            lambda: inbound.check_in_shipment(shipment_id=asn.id, actor=self._user("dock")),
            expect=None if asn.status in ANNOUNCED else InvalidTransition,
        )

    @precondition(has("asn", *ANNOUNCED))
    @rule(asn=asns.filter(in_state("asn", *ANNOUNCED)))
    def check_in(self, asn):
        self._check_in(asn)

    def _cancel_asn(self, asn: Ref) -> None:
        self._attempt(
            "cancel_asn",
            lambda: inbound.cancel_shipment(shipment_id=asn.id, actor=self._user("manager")),
            expect=None if asn.status in ANNOUNCED else InvalidTransition,
        )

    def _open_receipt(self, asn: Ref, outbound_door: bool) -> list[Ref]:
        door = self.world.outbound_door if outbound_door else self.world.dock_door
        if asn.status != InboundShipment.Status.ARRIVED:
            expect = InvalidTransition
        else:
            expect = DoorNotUsable if outbound_door else None
        ok, receipt = self._attempt(
            "open_receipt",
            lambda: inbound.open_receipt(
                shipment_id=asn.id, door_id=door.id, actor=self._user("dock")
            ),
            expect=expect,
        )
        return [self.ref("receipt", receipt.id)] if ok else []

    @precondition(has("asn", InboundShipment.Status.ARRIVED))
    @rule(
        target=receipts,
        asn=asns.filter(in_state("asn", InboundShipment.Status.ARRIVED)),
        outbound_door=st.integers(0, 9).map(lambda n: n == 0),
    )
    def open_receipt(self, asn, outbound_door):
        return self.into_bundle(*self._open_receipt(asn, outbound_door))

    def _asn_out_of_turn(self, asn: Ref, data) -> None:
        # A receipt opened here is not tracked: scans go to receipts opened in turn.
        verb = data.draw(st.sampled_from(["check_in", "cancel", "open_receipt"]))
        if verb == "check_in":
            self._check_in(asn)
        elif verb == "cancel":
            self._cancel_asn(asn)
        else:
            self._open_receipt(asn, outbound_door=False)

    def _receipt_inspects(self, receipt: Ref) -> bool:
        return self.asn_inspects[Receipt.objects.get(id=receipt.id).shipment_id]

    def _scan_item(
        self,
        receipt: Ref,
        product_index: int,
        count: int,
        case: bool,
        damaged: bool,
        form: str,
        lot_code: str = "",
    ) -> None:
        world = self.world
        product = world.products[product_index]
        lot = None
        if form == "unknown":
            barcode = world.unknown_gtin
        elif product.is_lot_tracked and form != "no-lot":
            lots = world.lots[product.id]
            lot = next((lot for lot in lots if lot.code == lot_code), lots[count % 3])
            barcode = f"(01){product.gtin}(10){lot.code}"
        else:
            barcode = product.gtin
        pack = "case" if case else None
        units = product.pack_sizes.filter(name="case").values_list("quantity", flat=True).first()
        if receipt.status != Receipt.Status.OPEN:
            expect = ReceiptClosed
        elif form == "unknown":
            expect = UnreadableBarcode
        elif case and units is None:
            expect = UnknownPack
        elif product.is_lot_tracked and lot is None:
            expect = LotRequired
        else:
            expect = None
        ok, result = self._attempt(
            "scan_item",
            lambda: scan_as_the_api_does(
                receipt_id=receipt.id,
                barcode=barcode,
                quantity=count,
                pack=pack,
                is_damaged=damaged,
                actor=self._user("dock"),
            ),
            expect=expect,
        )
        if not ok:
            return
        status = (
            DAMAGED if damaged else QUARANTINE if self._receipt_inspects(receipt) else AVAILABLE
        )
        quantity = count * (units if case else 1)
        [item] = result.items
        assert (item.scan.quantity, item.scan.status, item.scan.lot_id) == (
            quantity,
            status,
            lot.id if lot else None,
        )
        self.units[(product.id, status)] += quantity
        self.scanned[receipt.id][(product.id, item.scan.lot_id, status)] += quantity

    @precondition(has("receipt", Receipt.Status.OPEN))
    @rule(
        receipt=receipts.filter(in_state("receipt", Receipt.Status.OPEN)),
        product_index=st.integers(0, 2),
        count=st.integers(1, 40),
        case=st.integers(0, 4).map(lambda n: n == 0),
        damaged=st.integers(0, 5).map(lambda n: n == 0),
        form=st.sampled_from(["plain"] * 8 + ["no-lot", "unknown"]),
    )
    def scan_item(self, receipt, product_index, count, case, damaged, form):
        self._scan_item(receipt, product_index, count, case, damaged, form)

    def _scan_pallet(self, receipt: Ref, announced: bool, damaged: bool) -> None:
        shipment_id = Receipt.objects.values_list("shipment_id", flat=True).get(id=receipt.id)
        lines = list(
            InboundLine.objects.filter(shipment_id=shipment_id, is_expected=True)
            .exclude(sscc="")
            .select_related("product")
            .order_by("id")
        )
        if announced and lines:
            sscc = lines[0].sscc
        else:
            sscc = make_sscc(company_prefix="0950110", serial_reference=next(_serials))
            lines = []
        if receipt.status != Receipt.Status.OPEN:
            expect = ReceiptClosed
        elif not lines:
            expect = UnreadableBarcode
        elif any(line.pallet_received_at for line in lines):
            expect = PalletAlreadyReceived
        elif any(line.product.is_lot_tracked and not line.lot_code for line in lines):
            expect = LotRequired
        else:
            expect = None
        ok, result = self._attempt(
            "scan_pallet",
            lambda: scan_as_the_api_does(
                receipt_id=receipt.id,
                barcode=f"(00){sscc}",
                is_damaged=damaged,
                actor=self._user("dock"),
            ),
            expect=expect,
        )
        if not ok:
            return
        status = (
            DAMAGED if damaged else QUARANTINE if self._receipt_inspects(receipt) else AVAILABLE
        )
        assert sorted((i.line.id, i.scan.quantity) for i in result.items) == sorted(
            (line.id, line.expected_quantity) for line in lines
        )
        for item in result.items:
            assert item.scan.status == status
            self.units[(item.product.id, status)] += item.scan.quantity
            key = (item.product.id, item.scan.lot_id, status)
            self.scanned[receipt.id][key] += item.scan.quantity

    @precondition(has("receipt", Receipt.Status.OPEN))
    @rule(
        receipt=receipts.filter(in_state("receipt", Receipt.Status.OPEN)),
        announced=st.integers(0, 5).map(lambda n: n != 0),
        damaged=st.integers(0, 5).map(lambda n: n == 0),
    )
    def scan_pallet(self, receipt, announced, damaged):
        self._scan_pallet(receipt, announced, damaged)

    def _close_receipt(self, receipt: Ref, override: bool, by_manager: bool) -> list[Ref]:
        actor = self._user("manager" if by_manager else "dock")
        shipment_id = Receipt.objects.values_list("shipment_id", flat=True).get(id=receipt.id)
        tolerance = int(django_settings.DOCKSIDE.get("OVER_RECEIPT_TOLERANCE_PCT", 0))
        is_over = any(
            received * 100 > expected * (100 + tolerance)
            for received, expected in InboundLine.objects.filter(
                shipment_id=shipment_id, is_expected=True
            ).values_list("received_quantity", "expected_quantity")
        )
        if receipt.status != Receipt.Status.OPEN:
            expect = InvalidTransition
        elif is_over and override and not by_manager:
            expect = ManagerOverrideRequired
        elif is_over and not override:
            expect = OverReceiptNeedsOverride
        else:
            expect = None
        ok, _ = self._attempt(
            "close_receipt",
            lambda: inbound.close_receipt(receipt_id=receipt.id, actor=actor, override=override),
            expect=expect,
        )
        if not ok:
            return []
        # The work the receipt opens is what its scans put on the dock, by product and lot:
        # quarantined units for inspection, available ones for putaway.
        scanned = self.scanned[receipt.id]
        for status, model in ((QUARANTINE, Inspection), (AVAILABLE, PutawayTask)):
            made = Counter(
                {
                    (product_id, lot_id, status): quantity
                    for product_id, lot_id, quantity in model.objects.filter(
                        receipt_id=receipt.id
                    ).values_list("product_id", "lot_id", "quantity")
                }
            )
            assert made == Counter({k: v for k, v in scanned.items() if k[2] == status and v})
        refs = [
            self.ref("inspection", pk)
            for pk in Inspection.objects.filter(receipt_id=receipt.id).values_list("id", flat=True)
        ]
        refs += [
            self.ref("putaway", pk)
            for pk in PutawayTask.objects.filter(receipt_id=receipt.id).values_list("id", flat=True)
        ]
        return refs

    @precondition(has("receipt", Receipt.Status.OPEN))
    @rule(
        target=inbound_work,
        receipt=receipts.filter(in_state("receipt", Receipt.Status.OPEN)),
        override=st.booleans(),
        by_manager=st.booleans(),
    )
    def close_receipt(self, receipt, override, by_manager):
        return self.into_bundle(*self._close_receipt(receipt, override, by_manager))

    def _receipt_out_of_turn(self, receipt: Ref, data) -> None:
        verb = data.draw(st.sampled_from(["scan", "pallet", "close"]))
        if verb == "scan":
            self._scan_item(receipt, 0, 1, False, False, "plain")
        elif verb == "pallet":
            self._scan_pallet(receipt, True, False)
        elif receipt.status != Receipt.Status.OPEN:
            self._close_receipt(receipt, override=False, by_manager=False)

    def _inspect(self, inspection: Ref, passed: bool, as_damaged: bool, reason: str) -> list[Ref]:
        row = Inspection.objects.get(id=inspection.id)
        verdict_moves = passed or as_damaged
        if inspection.status != Inspection.Status.PENDING:
            expect = InvalidTransition
        elif not passed and not reason:
            expect = InvalidQuantity
        elif verdict_moves and (
            self._free(row.location_id, row.product_id, row.lot_id, QUARANTINE) < row.quantity
        ):
            # An adjustment or count took quarantined units off the dock meanwhile.
            expect = InsufficientStock
        else:
            expect = None
        disposition = (
            Inspection.Disposition.DAMAGED if as_damaged else Inspection.Disposition.QUARANTINE
        )
        place = (row.location_id, row.product_id, row.lot_id)
        statuses = (QUARANTINE, AVAILABLE, DAMAGED)
        before = [q for q, _ in self._stock_at(*((*place, status) for status in statuses))]
        ok, _ = self._attempt(
            "inspect",
            lambda: inbound.record_inspection(
                inspection_id=inspection.id,
                passed=passed,
                defects_found=0 if passed else 3,
                reason=reason,
                disposition=disposition,
                actor=self._user("inspector"),
            ),
            expect=expect,
        )
        if not ok:
            return []
        # The inspected units changed status where they are: released, damaged or kept.
        after = [q for q, _ in self._stock_at(*((*place, status) for status in statuses))]
        target = 1 if passed else 2 if as_damaged else 0
        expected = list(before)
        expected[0] -= row.quantity
        expected[target] += row.quantity
        assert after == expected
        if passed:
            self.units[(row.product_id, QUARANTINE)] -= row.quantity
            self.units[(row.product_id, AVAILABLE)] += row.quantity
            task = PutawayTask.objects.filter(receipt_id=row.receipt_id).order_by("-id").first()
            assert (task.product_id, task.lot_id, task.quantity) == (
                row.product_id,
                row.lot_id,
                row.quantity,
            )
            return [self.ref("putaway", task.id)]
        if as_damaged:
            self.units[(row.product_id, QUARANTINE)] -= row.quantity
            self.units[(row.product_id, DAMAGED)] += row.quantity
        return []

    @precondition(has("inspection", Inspection.Status.PENDING))
    @rule(
        target=inbound_work,
        inspection=inbound_work.filter(in_state("inspection", Inspection.Status.PENDING)),
        passed=st.booleans(),
        as_damaged=st.booleans(),
        reason=st.sampled_from(["torn packaging", "", "wrong labels"]),
    )
    def inspect(self, inspection, passed, as_damaged, reason):
        return self.into_bundle(*self._inspect(inspection, passed, as_damaged, reason))

    def _put_away(self, task: Ref, choice: str, bin_index: int) -> None:
        world = self.world
        row = PutawayTask.objects.select_related("proposed_location", "product").get(id=task.id)
        location: Location | None
        if choice == "proposed" and row.proposed_location is not None:
            location = row.proposed_location
        elif choice == "staging":
            location = world.not_staging if bin_index % 2 else world.staging
        elif choice == "unknown":
            location = None
        else:
            location = world.bins[bin_index % len(world.bins)]
        code = location.code.lower() if location else "NO-SUCH-BIN"
        if location is not None:
            location = Location.objects.select_related("zone").get(id=location.id)
        may_refuse: tuple[type[DomainError], ...] = ()
        if task.status != PutawayTask.Status.OPEN:
            expect = InvalidTransition
        elif location is None:
            expect = UnknownBin
        elif not location.zone.is_stocking:
            expect = NotAStorageBin
        elif location.zone.storage_class != row.product.storage_class:
            expect = StorageClassMismatch
        elif self._free(row.from_location_id, row.product_id, row.lot_id, AVAILABLE) < row.quantity:
            # Taken off the dock by an adjustment or count: the bin's capacity is checked first.
            expect, may_refuse = None, (InsufficientStock, CapacityExceeded)
        else:
            expect, may_refuse = None, (CapacityExceeded,)
        short_on_dock = may_refuse == (InsufficientStock, CapacityExceeded)
        places = []
        if location is not None:
            places = [
                (row.from_location_id, row.product_id, row.lot_id, AVAILABLE),
                (location.id, row.product_id, row.lot_id, AVAILABLE),
            ]
        before = self._stock_at(*places)
        ok, _ = self._attempt(
            "put_away",
            lambda: inbound.confirm_putaway(
                task_id=task.id, bin_code=code, actor=self._user("dock")
            ),
            expect=expect,
            may_refuse=may_refuse,
        )
        assert not (ok and short_on_dock), "put away more than the dock held"
        if ok:
            # The task's units left the dock for the bin scanned.
            (dock, dock_allocated), (bin_, bin_allocated) = before
            expected = [(dock - row.quantity, dock_allocated), (bin_ + row.quantity, bin_allocated)]
            assert self._stock_at(*places) == expected

    @precondition(has("putaway", PutawayTask.Status.OPEN))
    @rule(
        task=inbound_work.filter(in_state("putaway", PutawayTask.Status.OPEN)),
        choice=st.sampled_from(["proposed"] * 4 + ["other", "other", "staging", "unknown"]),
        bin_index=st.integers(0, 20),
    )
    def put_away(self, task, choice, bin_index):
        self._put_away(task, choice, bin_index)

    def _work_out_of_turn(self, work: Ref, data) -> None:
        if work.kind == "inspection":
            self._inspect(work, data.draw(st.booleans()), False, "again")
        else:
            self._put_away(work, "proposed", 0)

    # --- warehouse -----------------------------------------------------------------------------

    def _place(self, data, *, anywhere: bool = True) -> tuple[Location, Product, int | None, str]:
        """Usually a balance that holds stock, else (if `anywhere`, or none holds any) any
        place."""
        world = self.world
        held = list(
            StockBalance.objects.filter(quantity__gt=0)
            .order_by("id")
            .values_list("location_id", "product_id", "lot_id", "status")
        )
        choice = data.draw(st.sampled_from([*held, None] if anywhere or not held else held))
        if choice is None:
            location = data.draw(st.sampled_from(world.locations))
            product = data.draw(st.sampled_from(world.products))
            lot = (
                data.draw(st.sampled_from(world.lots[product.id]))
                if product.is_lot_tracked
                else None
            )
            status = data.draw(st.sampled_from([AVAILABLE, QUARANTINE, DAMAGED]))
            return location, product, lot.id if lot else None, status
        location_id, product_id, lot_id, status = choice
        location = next(loc for loc in world.locations if loc.id == location_id)
        product = next(p for p in world.products if p.id == product_id)
        return location, product, lot_id, status

    def _adjust(self, verb, location, product, lot_id, status, delta, reason) -> None:
        balance = self._balance(location.id, product.id, lot_id, status)
        free = balance.free if balance else 0
        may_refuse: tuple[type[DomainError], ...] = ()
        if delta == 0:
            expect = InvalidQuantity
        elif delta < 0:
            expect = InsufficientStock if free < -delta else None
        else:
            zone = location.zone
            if zone.is_stocking and zone.storage_class != product.storage_class:
                expect = StorageClassMismatch
            else:
                expect, may_refuse = None, (CapacityExceeded,)
        ok, _ = self._attempt(
            verb,
            lambda: adjust_stock(
                location_id=location.id,
                product_id=product.id,
                lot_id=lot_id,
                delta=delta,
                status=status,
                reason=reason,
                reference=verb,
                actor=self._user("manager"),
            ),
            expect=expect,
            may_refuse=may_refuse,
        )
        if ok:
            self.units[(product.id, status)] += delta

    @rule(data=st.data(), amount=st.integers(1, 30), found=st.booleans())
    def adjust(self, data, amount, found):
        location, product, lot_id, status = self._place(data)
        delta = amount if found else -amount
        self._adjust("adjust", location, product, lot_id, status, delta, StockMove.Reason.ADJUST)

    @rule(data=st.data(), off_by=st.sampled_from([-1, -2, -5, 1, 3, -1000, 0]))
    def count_bin(self, data, off_by):
        """A cycle count: the counter finds `off_by` units more (or fewer, -1000: the place is
        empty) than the balance; the difference is posted as an adjustment with reason `count`
        (no difference is refused, and so is counting away allocated units)."""
        location, product, lot_id, status = self._place(data, anywhere=off_by > 0)
        balance = self._balance(location.id, product.id, lot_id, status)
        on_record = balance.quantity if balance else 0
        counted = max(0, on_record + off_by)
        self._adjust(
            "count_bin",
            location,
            product,
            lot_id,
            status,
            counted - on_record,
            StockMove.Reason.COUNT,
        )

    # --- outbound: orders and allocation --------------------------------------------------------

    @precondition(lambda self: self._fewer_than(4, "order", *ACTIVE_ORDER))
    @rule(
        target=orders,
        lines=st.lists(
            st.tuples(
                st.integers(0, 2), st.integers(1, 30), st.integers(0, 5).map(lambda n: n == 0)
            ),
            min_size=1,
            max_size=3,
        ),
        allow_partial=st.booleans(),
        demanding=st.integers(0, 3).map(lambda n: n == 0),
    )
    def create_order(self, lines, allow_partial, demanding):
        """An order of 1-3 lines (a product may come twice; some lines in cases, which the
        heavy product has none of)."""
        products = self.world.products
        has_case = [p.pack_sizes.filter(name="case").exists() for p in products]
        ok, order = self._attempt(
            "create_order",
            lambda: sf.make_order(
                self.world.customers[int(demanding)],
                [
                    (products[index], quantity, "case" if case else "")
                    for index, quantity, case in lines
                ],
                number=f"SO-FLOW-{next(_serials)}",
                allow_partial=allow_partial,
            ),
            expect=InvalidQuantity
            if any(case and not has_case[index] for index, _, case in lines)
            else None,
        )
        return self.into_bundle(self.ref("order", order.id)) if ok else multiple()

    def _line_counters(self, order_id: int) -> dict[int, tuple[int, int]]:
        return {
            line_id: (quantity, allocated)
            for line_id, quantity, allocated in OrderLine.objects.filter(
                order_id=order_id
            ).values_list("id", "quantity", "quantity_allocated")
        }

    def _allocate(self, order: Ref) -> None:
        status = order.status
        before = self._line_counters(order.id)
        _, result = self._attempt(
            "allocate",
            lambda: outbound.allocate_order(order_id=order.id, actor=self._user("dispatcher")),
        )
        after = self._line_counters(order.id)
        row = Order.objects.get(id=order.id)
        if status not in ALLOCATABLE:
            # Not allocatable: reported as it is, nothing changes.
            assert (result.status, after) == (status, before)
            return
        assert result.status == row.status
        new = sum(a for _, a in after.values()) - sum(a for _, a in before.values())
        assert new == result.allocated >= 0
        if not row.allow_partial:
            # Whole or not at all.
            assert row.status in (OS.ALLOCATED, OS.BACKORDERED)
            assert new == 0 or all(q == a for q, a in after.values())

    @precondition(has("order", *ALLOCATABLE))
    @rule(order=orders.filter(in_state("order", *ALLOCATABLE)))
    def allocate(self, order):
        self._allocate(order)

    @precondition(has("order", OS.BACKORDERED, OS.PARTIALLY_ALLOCATED))
    @rule(product_index=st.integers(0, 2))
    def reallocate_backorders(self, product_index):
        """What the outbox task does once stock became available (it runs after commit, which
        these examples never reach, so the machine calls it)."""
        self._attempt(
            "reallocate_backorders",
            lambda: outbound.reallocate_backorders(
                warehouse_id=self.world.warehouse_id,
                product_id=self.world.products[product_index].id,
            ),
        )

    def _cancel_order(self, order: Ref) -> None:
        self._attempt(
            "cancel_order",
            lambda: outbound.cancel_order(
                order_id=order.id, actor=self._user("manager"), reason="customer called"
            ),
            expect=None if order.status in CANCELLABLE else InvalidTransition,
        )

    @precondition(has("order", *CANCELLABLE))
    @rule(order=orders.filter(in_state("order", *CANCELLABLE)))
    def cancel_order(self, order):
        self._cancel_order(order)

    # --- outbound: waves -----------------------------------------------------------------------

    @precondition(has("order", *Order.WAVEABLE))
    @rule(
        target=waves,
        data=st.data(),
        narrowed=st.booleans(),
        max_lines=st.integers(1, 6),
    )
    def plan_wave(self, data, narrowed, max_lines):
        order_ids = None
        if narrowed:
            known = sorted(self.statuses["order"])
            order_ids = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=2))
        wave = self._plan_wave(order_ids, max_lines)
        return self.into_bundle(wave) if wave else multiple()

    def _plan_wave(self, order_ids: list[int] | None, max_lines: int) -> Ref | None:
        today = timezone.localdate()
        eligible = Order.objects.filter(
            status__in=Order.WAVEABLE, wave__isnull=True, requested_date__lte=today, carrier=""
        )
        if order_ids is not None:
            eligible = eligible.filter(id__in=order_ids)
        expected_orders = set(eligible.values_list("id", flat=True))
        ok, wave = self._attempt(
            "plan_wave",
            lambda: outbound.plan_wave(
                warehouse_id=self.world.warehouse_id,
                dispatch_date=today,
                cutoff_at=timezone.now(),
                order_ids=order_ids,
                max_lines=max_lines,
                actor=self._user("dispatcher"),
            ),
            expect=None if expected_orders else NothingToWave,
        )
        if not ok:
            return None
        assert set(wave.orders.values_list("id", flat=True)) == expected_orders
        return self.ref("wave", wave.id)

    def _release_wave(self, wave: Ref) -> list[Ref]:
        pickable = Order.objects.filter(wave_id=wave.id, status__in=Order.WAVEABLE)
        order_ids = set(pickable.values_list("id", flat=True))
        reserved = set(
            Allocation.objects.filter(
                order_line__order_id__in=order_ids, status=RESERVED
            ).values_list("id", flat=True)
        )
        if wave.status != Wave.Status.PLANNED:
            expect = InvalidTransition
        else:
            expect = None if order_ids else NothingToWave
        ok, _ = self._attempt(
            "release_wave",
            lambda: outbound.release_wave(wave_id=wave.id, actor=self._user("dispatcher")),
            expect=expect,
        )
        if not ok:
            return []
        # One open task per reserved allocation of the orders still pickable, one shipment each.
        made = list(
            PickTask.objects.filter(pick_list__wave_id=wave.id).values_list("id", "allocation_id")
        )
        assert {allocation_id for _, allocation_id in made} == reserved
        assert len(made) == len(reserved)
        assert (
            set(
                Shipment.objects.filter(
                    order_id__in=order_ids, status=Shipment.Status.PLANNED
                ).values_list("order_id", flat=True)
            )
            == order_ids
        )
        return [self.ref("task", task_id) for task_id, _ in made]

    @precondition(has("wave", Wave.Status.PLANNED))
    @rule(target=tasks, wave=waves.filter(in_state("wave", Wave.Status.PLANNED)))
    def release_wave(self, wave):
        return self.into_bundle(*self._release_wave(wave))

    @precondition(has("wave", Wave.Status.PLANNED))
    @rule(target=tasks)
    def release_due_waves(self):
        """The beat task: every planned wave past its cut-off (all of them: waves here are
        planned with the cut-off now) is released, or skipped when nothing is left to pick."""
        planned = {
            wave_id
            for wave_id, status in self.statuses["wave"].items()
            if status == Wave.Status.PLANNED
        }
        pickable = set(
            Order.objects.filter(wave_id__in=planned, status__in=Order.WAVEABLE).values_list(
                "wave_id", flat=True
            )
        )
        _, released = self._attempt("release_due_waves", outbound.release_due_waves)
        assert set(released) == pickable
        made = PickTask.objects.filter(pick_list__wave_id__in=released).values_list("id", flat=True)
        return self.into_bundle(*(self.ref("task", task_id) for task_id in made))

    def _cancel_wave(self, wave: Ref) -> None:
        self._attempt(
            "cancel_wave",
            lambda: outbound.cancel_wave(wave_id=wave.id, actor=self._user("dispatcher")),
            expect=None if wave.status == Wave.Status.PLANNED else InvalidTransition,
        )

    @precondition(has("wave", Wave.Status.PLANNED))
    @rule(wave=waves.filter(in_state("wave", Wave.Status.PLANNED)))
    def cancel_wave(self, wave):
        self._cancel_wave(wave)

    def _wave_out_of_turn(self, wave: Ref, data) -> None:
        # Tasks of a wave released here would not be tracked: only finished waves are tried.
        if wave.status != Wave.Status.PLANNED:
            if data.draw(st.booleans()):
                self._release_wave(wave)
            else:
                self._cancel_wave(wave)

    # --- outbound: picking ---------------------------------------------------------------------

    def _lock_refusal(self, task: PickTask, actor: User) -> type[DomainError] | None:
        """What the pick services' lock phase refuses, in their order of checks."""
        pick_list = PickList.objects.get(id=task.pick_list_id)
        roles = set(actor.groups.values_list("name", flat=True))
        if not (
            pick_list.picker_id == actor.id
            or MANAGER in roles
            or (pick_list.picker_id is None and PICKER in roles)
        ):
            return NotYourPickList
        if Order.objects.get(id=task.order_line.order_id).status != OS.RELEASED:
            return OrderNotPickable
        if pick_list.status in (PickList.Status.DONE, PickList.Status.CANCELLED):
            return InvalidTransition
        if task.status != PickTask.Status.OPEN:
            return InvalidTransition
        return None

    def _pick(self, task_ref: Ref, mode: str, who: str, right_bin: bool, item: str, amount: int):
        world = self.world
        task = PickTask.objects.select_related("location", "product", "lot", "order_line").get(
            id=task_ref.id
        )
        actor = self._user(who)
        bin_code = task.location.code if right_bin else world.staging.code
        if item == "wrong":
            other = next(p for p in world.products if p.id != task.product_id)
            item_scan = other.gtin
        elif item == "gs1" and task.lot_id:
            item_scan = f"(01){task.product.gtin}(10){task.lot.code}"
        else:
            item_scan = task.product.gtin
        key = str(uuid.uuid4())
        if mode == "full":
            quantity = task.quantity
        elif mode == "over":
            quantity = task.quantity + 1
        else:
            quantity = amount % task.quantity  # 0 .. quantity - 1
        scans_checked = mode == "full" or (mode != "over" and quantity > 0)
        if mode == "over":
            expect = OverPick
        elif scans_checked and not right_bin:
            expect = WrongBin
        elif scans_checked and item == "wrong":
            expect = WrongItem
        else:
            expect = self._lock_refusal(task, actor)
        if mode == "short":
            reason = (
                PickTask.ShortReason.EMPTY_BIN if quantity == 0 else PickTask.ShortReason.DAMAGED
            )

            def call():
                return outbound.short_pick(
                    task_id=task.id,
                    quantity_picked=quantity,
                    reason=reason,
                    bin_code=bin_code,
                    item_scan=item_scan,
                    actor=actor,
                    idempotency_key=key,
                )
        else:

            def call():
                return outbound.confirm_pick(
                    task_id=task.id,
                    bin_code=bin_code,
                    item_scan=item_scan,
                    quantity=quantity,
                    actor=actor,
                    idempotency_key=key,
                )

        existing = set(PickTask.objects.values_list("id", flat=True))
        staging_id = PickList.objects.values_list("staging_location_id", flat=True).get(
            id=task.pick_list_id
        )
        places = [
            (task.location_id, task.product_id, task.lot_id, AVAILABLE),
            (staging_id, task.product_id, task.lot_id, AVAILABLE),
        ]
        before = self._stock_at(*places)
        ok, outcome = self._attempt(f"pick_{mode}", call, expect=expect)
        if not ok:
            return []
        # The picked units went from the bin to staging, still allocated; the bin's allocation
        # for the task is gone whole (a shortfall is deallocated and re-allocated elsewhere:
        # the short pick's count request keeps the bin out).
        (bin_, bin_allocated), (staged, staged_allocated) = before
        assert self._stock_at(*places) == [
            (bin_ - quantity, bin_allocated - task.quantity),
            (staged + quantity, staged_allocated + quantity),
        ]
        assert not outcome.replayed and outcome.quantity_picked == quantity
        self.picked[task.order_line_id] += quantity
        self.applied_keys.append((task.id, key))
        if quantity < task.quantity:
            assert outcome.status == PickTask.Status.SHORT
            assert outcome.reallocated + outcome.backordered == task.quantity - quantity
        new = set(PickTask.objects.values_list("id", flat=True)) - existing
        assert sum(PickTask.objects.filter(id__in=new).values_list("quantity", flat=True)) == (
            outcome.reallocated
        )
        return [self.ref("task", task_id) for task_id in sorted(new)]

    @precondition(has("task", PickTask.Status.OPEN))
    @rule(
        target=tasks,
        task=tasks.filter(in_state("task", PickTask.Status.OPEN)),
        mode=st.sampled_from(["full"] * 6 + ["partial", "short", "over"]),
        who=st.sampled_from(["picker"] * 4 + ["picker2", "manager"]),
        right_bin=st.integers(0, 9).map(lambda n: n != 0),
        item=st.sampled_from(["gtin", "gtin", "gs1", "gs1", "wrong"]),
        amount=st.integers(0, 50),
    )
    def pick(self, task, mode, who, right_bin, item, amount):
        return self.into_bundle(*self._pick(task, mode, who, right_bin, item, amount))

    def _skip(self, task_ref: Ref, who: str) -> None:
        task = PickTask.objects.select_related("order_line").get(id=task_ref.id)
        actor = self._user(who)
        ok, _ = self._attempt(
            "skip",
            lambda: outbound.skip_task(task_id=task.id, actor=actor),
            expect=self._lock_refusal(task, actor),
        )
        if ok:
            top = PickTask.objects.filter(pick_list_id=task.pick_list_id).order_by("-sequence")
            assert top.values_list("id", flat=True).first() == task.id

    @precondition(has("task", PickTask.Status.OPEN))
    @rule(
        task=tasks.filter(in_state("task", PickTask.Status.OPEN)),
        who=st.sampled_from(["picker", "picker2", "manager"]),
    )
    def skip(self, task, who):
        self._skip(task, who)

    @precondition(has("task", PickTask.Status.OPEN))
    @rule(
        task=tasks.filter(in_state("task", PickTask.Status.OPEN)),
        who=st.sampled_from(["picker", "picker2", "dock"]),
    )
    def assign_pick_list(self, task, who):
        """A manager hands the task's list to a picker (or, refused, to someone who is not)."""
        pick_list_id = PickTask.objects.values_list("pick_list_id", flat=True).get(id=task.id)
        if self.statuses["pick list"][pick_list_id] not in (
            PickList.Status.OPEN,
            PickList.Status.IN_PROGRESS,
        ):
            expect = InvalidTransition
        else:
            expect = None if who != "dock" else InvalidPicker
        ok, _ = self._attempt(
            "assign_pick_list",
            lambda: outbound.assign_pick_list(
                pick_list_id=pick_list_id,
                picker_id=self._user(who).id,
                actor=self._user("manager"),
            ),
            expect=expect,
        )
        if ok:
            picker = PickList.objects.values_list("picker_id", flat=True).get(id=pick_list_id)
            assert picker == self._user(who).id

    @precondition(lambda self: bool(self.applied_keys))
    @rule(data=st.data())
    def replay_pick(self, data):
        """A handheld retries a confirmation that was applied: the first outcome, no change."""
        task_id, key = data.draw(st.sampled_from(self.applied_keys))
        task = PickTask.objects.select_related("location", "product").get(id=task_id)
        _, outcome = self._attempt(
            "replay_pick",
            lambda: outbound.confirm_pick(
                task_id=task_id,
                bin_code=task.location.code,
                item_scan=task.product.gtin,
                quantity=task.quantity,
                actor=self._user("manager"),
                idempotency_key=key,
            ),
        )
        assert outcome.replayed

    def _task_out_of_turn(self, task: Ref, data) -> None:
        if task.status == PickTask.Status.OPEN:
            return
        mode = data.draw(st.sampled_from(["full", "short", "skip"]))
        who = data.draw(st.sampled_from(["picker", "manager"]))
        if mode == "skip":
            self._skip(task, who)
        else:
            self._pick(task, mode, who, True, "gtin", 0)

    # --- outbound: pack, stage, load, dispatch, deliver ----------------------------------------

    def _shipment(self, order: Ref) -> Shipment | None:
        return Shipment.objects.filter(order_id=order.id).order_by("-id").first()

    def _pack(self, order: Ref, packages: int) -> None:
        shipment = self._shipment(order)
        if shipment is None:
            return
        ready = order.status == OS.PICKED and shipment.status == Shipment.Status.PLANNED
        self._attempt(
            "pack",
            lambda: outbound.pack_shipment(
                shipment_id=shipment.id,
                packages=[box() for _ in range(packages)],
                actor=self._user("dispatcher"),
            ),
            expect=None if ready else InvalidTransition,
        )

    @precondition(has("order", OS.PICKED))
    @rule(order=orders.filter(in_state("order", OS.PICKED)), packages=st.integers(1, 2))
    def pack(self, order, packages):
        self._pack(order, packages)

    def _stage(self, order: Ref, lane: str, door: str) -> None:
        world = self.world
        shipment = self._shipment(order)
        if shipment is None:
            return
        location = {"first": world.lanes[0], "second": world.lanes[1], "bin": world.bins[0]}[lane]
        door_id = {"none": None, "out": world.outbound_door.id, "in": world.dock_door.id}[door]
        if shipment.status != Shipment.Status.PACKED:
            expect = InvalidTransition
        elif lane == "bin":
            expect = InvalidStagingLane
        elif door == "in":
            expect = InvalidDockDoor
        else:
            expect = None
        self._attempt(
            "stage",
            lambda: outbound.stage_shipment(
                shipment_id=shipment.id,
                staging_lane_id=location.id,
                outbound_door_id=door_id,
                actor=self._user("dispatcher"),
            ),
            expect=expect,
        )

    @precondition(has("order", OS.PACKED))
    @rule(
        order=orders.filter(in_state("order", OS.PACKED)),
        lane=st.sampled_from(["first", "second", "second", "bin"]),
        door=st.sampled_from(["out", "out", "none", "in"]),
    )
    def stage(self, order, lane, door):
        self._stage(order, lane, door)

    def _load(self, order: Ref, vehicle: str, any_package: bool, data) -> None:
        shipment = self._shipment(order)
        if shipment is None:
            return
        packages = list(Package.objects.filter(shipment=shipment).order_by("id"))
        if not packages:
            return
        waiting = [p for p in packages if p.loaded_at is None]
        package = data.draw(st.sampled_from(packages if any_package or not waiting else waiting))
        if package.loaded_at is not None and package.vehicle_code == vehicle:
            expect = None  # the same package onto the same vehicle again: a no-op
        elif shipment.vehicle_code and shipment.vehicle_code != vehicle:
            expect = WrongVehicle
        elif shipment.status != Shipment.Status.STAGED:
            expect = InvalidTransition
        elif (
            shipment.load_sequence is not None
            and Shipment.objects.filter(
                vehicle_code=vehicle,
                load_sequence__lt=shipment.load_sequence,
                status__in=[Shipment.Status.PACKED, Shipment.Status.STAGED],
            ).exists()
        ):
            expect = LoadOrderViolation  # a stop further down the route is loaded first
        else:
            expect = None
        before = Shipment.objects.get(id=shipment.id).status
        ok, _ = self._attempt(
            "load",
            lambda: outbound.load_package(
                sscc=package.sscc, vehicle_code=vehicle, actor=self._user("dispatcher")
            ),
            expect=expect,
        )
        if ok and before == Shipment.Status.STAGED:
            loaded_all = not Package.objects.filter(shipment=shipment, loaded_at__isnull=True)
            status = Shipment.objects.get(id=shipment.id).status
            assert (status == Shipment.Status.LOADED) == loaded_all

    @precondition(has("order", OS.PACKED))
    @rule(
        data=st.data(),
        order=orders.filter(in_state("order", OS.PACKED)),
        vehicle=st.sampled_from(["VAN-1", "VAN-1", "VAN-1", "VAN-2"]),
        any_package=st.integers(0, 4).map(lambda n: n == 0),
    )
    def load(self, data, order, vehicle, any_package):
        self._load(order, vehicle, any_package, data)

    @precondition(has("order", OS.PACKED))
    @rule(data=st.data(), vehicle=st.sampled_from(["VAN-1", "VAN-2"]))
    def sequence_loading(self, data, vehicle):
        """Routing sets the load order of packed orders' shipments on a vehicle: the last stop
        is loaded first."""
        open_shipments = list(
            Shipment.objects.filter(
                status__in=[Shipment.Status.PACKED, Shipment.Status.STAGED]
            ).values_list("id", flat=True)
        )
        if not open_shipments:
            return
        stops = data.draw(st.permutations(open_shipments))
        stops = stops[: data.draw(st.integers(1, len(stops)))]
        self._attempt(
            "sequence_loading",
            lambda: outbound.sequence_loading(
                shipment_ids_in_stop_order=list(stops), vehicle_code=vehicle
            ),
        )
        sequences = dict(Shipment.objects.filter(id__in=stops).values_list("id", "load_sequence"))
        assert [sequences[stop] for stop in stops] == list(range(len(stops), 0, -1))

    def _dispatch(self, order: Ref) -> None:
        shipment = self._shipment(order)
        if shipment is None:
            return
        if shipment.status in (
            Shipment.Status.PLANNED,
            Shipment.Status.PACKED,
            Shipment.Status.STAGED,
        ):
            expect = NotPacked
        elif shipment.status != Shipment.Status.LOADED:
            expect = InvalidTransition
        else:
            expect = None
        lines = list(OrderLine.objects.filter(order_id=order.id).values_list("id", "product_id"))
        ok, _ = self._attempt(
            "dispatch",
            lambda: outbound.dispatch_shipment(
                shipment_id=shipment.id, actor=self._user("dispatcher")
            ),
            expect=expect,
        )
        if not ok:
            return
        # Everything picked for the order and not shipped yet leaves on this shipment.
        leaving = {
            line_id: self.picked[line_id] - self.shipped[line_id]
            for line_id, _ in lines
            if self.picked[line_id] > self.shipped[line_id]
        }
        on_shipment = dict(
            ShipmentLine.objects.filter(shipment=shipment).values_list("order_line_id", "quantity")
        )
        assert on_shipment == leaving
        for line_id, product_id in lines:
            self.units[(product_id, AVAILABLE)] -= leaving.get(line_id, 0)
            self.shipped[line_id] += leaving.get(line_id, 0)

    @precondition(has("order", OS.PACKED))
    @rule(order=orders.filter(in_state("order", OS.PACKED)))
    def dispatch(self, order):
        self._dispatch(order)

    def _deliver(self, order: Ref, exception: str, data) -> None:
        shipment = self._shipment(order)
        if shipment is None:
            return
        lines = list(OrderLine.objects.filter(order_id=order.id).order_by("id"))
        quantities = None
        over = False
        if data.draw(st.booleans()):
            quantities = {}
            for line in lines:
                amount = data.draw(st.integers(0, line.quantity_shipped + 1))
                over = over or amount > line.quantity_shipped
                quantities[line.id] = amount
        if shipment.status != Shipment.Status.DISPATCHED:
            expect = InvalidTransition
        else:
            expect = InvalidQuantity if over else None
        row = Order.objects.get(id=order.id)
        ok, delivery = self._attempt(
            "deliver",
            lambda: outbound.confirm_delivery(
                shipment_id=shipment.id,
                delivered_at=row.promised_window_start + dt.timedelta(minutes=30),
                exception=exception,
                delivered_quantities=quantities,
                actor=self._user("dispatcher"),
            ),
            expect=expect,
        )
        if not ok:
            return
        if quantities is None:
            nothing = exception in ("refused", "not_home")
            quantities = {line.id: 0 if nothing else line.quantity_shipped for line in lines}
        for line_id, amount in quantities.items():
            self.delivered[line_id] += amount
        in_full = all(self.delivered[line.id] >= line.quantity for line in lines)
        assert delivery.is_in_full == in_full
        assert delivery.is_on_time

    @precondition(has("order", OS.DISPATCHED))
    @rule(
        data=st.data(),
        order=orders.filter(in_state("order", OS.DISPATCHED)),
        exception=st.sampled_from(["", "", "", "damaged", "refused"]),
    )
    def deliver(self, data, order, exception):
        self._deliver(order, exception, data)

    def _order_out_of_turn(self, order: Ref, data) -> None:
        verb = data.draw(
            st.sampled_from(["pack", "stage", "load", "dispatch", "deliver", "cancel"])
        )
        if verb == "pack":
            self._pack(order, 1)
        elif verb == "stage":
            self._stage(order, "first", "none")
        elif verb == "load":
            self._load(order, "VAN-1", True, data)
        elif verb == "dispatch":
            self._dispatch(order)
        elif verb == "deliver":
            self._deliver(order, "", data)
        else:
            self._cancel_order(order)

    # --- whole journeys ------------------------------------------------------------------------

    def _journey(self, step: Callable[[], None]) -> None:
        """Repeat `step` (one verb each, checked as in its own rule) while it changes something:
        it stops after three refused or idle steps in a row, or 40 steps."""
        idle = 0
        for _ in range(40):
            before = self.last_fingerprint
            step()
            idle = 0 if self.last_fingerprint != before else idle + 1
            if idle == 3:
                return

    @precondition(has("asn", *ACTIVE_ASN, InboundShipment.Status.RECEIVED))
    @rule(
        data=st.data(),
        asn=asns.filter(in_state("asn", *ACTIVE_ASN, InboundShipment.Status.RECEIVED)),
    )
    def rush_asn(self, data, asn):
        """One ASN as far as it goes: check-in, a receipt, scans of what was announced (whole
        pallets or item by item, sometimes damaged or a few over), the close (a manager
        overrides an over-receipt), its inspections and its putaways."""
        self._journey(lambda: self._rush_asn_step(asn, data))

    def _rush_asn_step(self, asn: Ref, data) -> None:
        status = asn.status
        if status in ANNOUNCED:
            self._check_in(asn)
        elif status == InboundShipment.Status.ARRIVED:
            self._open_receipt(asn, outbound_door=False)
        elif status == InboundShipment.Status.RECEIVING:
            receipt = self.ref(
                "receipt",
                Receipt.objects.get(shipment_id=asn.id, status=Receipt.Status.OPEN).id,
            )
            line = (
                InboundLine.objects.filter(
                    shipment_id=asn.id,
                    is_expected=True,
                    received_quantity__lt=F("expected_quantity"),
                )
                .order_by("id")
                .first()
            )
            damaged = data.draw(st.integers(0, 7)) == 0
            if line is None or data.draw(st.integers(0, 9)) == 0:
                self._close_receipt(receipt, override=True, by_manager=True)
            elif line.sscc and line.pallet_received_at is None and data.draw(st.booleans()):
                self._scan_pallet(receipt, announced=True, damaged=damaged)
            else:
                missing = line.expected_quantity - line.received_quantity
                self._scan_item(
                    receipt,
                    next(i for i, p in enumerate(self.world.products) if p.id == line.product_id),
                    missing + data.draw(st.sampled_from([0, 0, 0, 1, 5])),
                    case=False,
                    damaged=damaged,
                    form="plain",
                    lot_code=line.lot_code,
                )
        elif status == InboundShipment.Status.RECEIVED:
            receipts = Receipt.objects.filter(shipment_id=asn.id)
            inspection = Inspection.objects.filter(
                receipt__in=receipts, status=Inspection.Status.PENDING
            ).first()
            task = PutawayTask.objects.filter(
                receipt__in=receipts, status=PutawayTask.Status.OPEN
            ).first()
            if inspection is not None:
                self._inspect(
                    self.ref("inspection", inspection.id),
                    passed=data.draw(st.integers(0, 3)) != 0,
                    as_damaged=data.draw(st.booleans()),
                    reason="seal broken",
                )
            elif task is not None:
                self._put_away(
                    self.ref("putaway", task.id),
                    data.draw(st.sampled_from(["proposed", "proposed", "proposed", "other"])),
                    data.draw(st.integers(0, 20)),
                )

    @precondition(has("order", *ACTIVE_ORDER, OS.DISPATCHED))
    @rule(data=st.data(), order=orders.filter(in_state("order", *ACTIVE_ORDER, OS.DISPATCHED)))
    def rush_order(self, data, order):
        """One order as far as it goes: allocation, a wave of its own (or the one it is in),
        every pick (some short), packing, staging, loading, dispatch and delivery."""
        self._journey(lambda: self._rush_order_step(order, data))

    def _rush_order_step(self, order: Ref, data) -> None:
        status = order.status
        if status in ALLOCATABLE:
            self._allocate(order)
        elif status in Order.WAVEABLE:
            wave_id = Order.objects.values_list("wave_id", flat=True).get(id=order.id)
            if wave_id is None:
                self._plan_wave([order.id], data.draw(st.integers(1, 6)))
            else:
                self._release_wave(self.ref("wave", wave_id))
        elif status == OS.RELEASED:
            task = (
                PickTask.objects.filter(order_line__order_id=order.id, status=PickTask.Status.OPEN)
                .select_related("pick_list")
                .order_by("pick_list_id", "sequence")
                .first()
            )
            if task is None:
                return
            picker = next(
                (
                    name
                    for name, user in self.world.users.items()
                    if user.id == task.pick_list.picker_id
                ),
                "picker",
            )
            mode = data.draw(st.sampled_from(["full"] * 5 + ["partial", "short", "short", "skip"]))
            if mode == "skip":
                self._skip(self.ref("task", task.id), picker)
            else:
                self._pick(
                    self.ref("task", task.id),
                    mode,
                    picker,
                    right_bin=True,
                    item="gs1",
                    amount=data.draw(st.integers(0, 50)),
                )
        elif status == OS.PICKED:
            self._pack(order, data.draw(st.integers(1, 2)))
        elif status == OS.PACKED:
            shipment = self._shipment(order)
            if shipment.status == Shipment.Status.PACKED:
                lane = data.draw(st.sampled_from(["first", "second"]))
                self._stage(order, lane, data.draw(st.sampled_from(["out", "none"])))
            elif shipment.status == Shipment.Status.STAGED:
                self._load(order, shipment.vehicle_code or "VAN-1", False, data)
            else:
                self._dispatch(order)
        elif status == OS.DISPATCHED:
            self._deliver(order, data.draw(st.sampled_from(["", "", "damaged"])), data)

    # --- out of turn ---------------------------------------------------------------------------

    @rule(data=st.data())
    def out_of_turn(self, data):
        """Any object the machine made, any verb of its kind: what its state does not allow
        must be refused (a finished task, a closed receipt, a dispatched order, ...)."""
        bundles = {
            "asns": self._asn_out_of_turn,
            "receipts": self._receipt_out_of_turn,
            "inbound_work": self._work_out_of_turn,
            "waves": self._wave_out_of_turn,
            "tasks": self._task_out_of_turn,
            "orders": self._order_out_of_turn,
        }
        filled = [name for name in bundles if self.bundle(name)]
        if not filled:
            return
        name = data.draw(st.sampled_from(filled))
        bundles[name](data.draw(getattr(type(self), name)), data)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def flow_holds(self):
        # `last_fingerprint` and `statuses` are as `_attempt` left them: only its calls write.
        # A step that wrote nothing (a refusal, a no-op) leaves what was checked as it was.
        if self.last_fingerprint is self.checked_fingerprint:
            return
        self.checked_fingerprint = self.last_fingerprint
        self._stock_holds()
        self._allocations_hold()
        self._orders_hold()
        self._inbound_holds()
        self._waves_hold()

    def _stock_holds(self) -> None:
        rows = list(
            StockBalance.objects.values_list("id", "product_id", "status", "quantity", "allocated")
        )
        assert all(0 <= allocated <= quantity for *_, quantity, allocated in rows)
        assert list_ledger_mismatches() == []
        totals: Counter[tuple[int, str]] = Counter()
        for _, product_id, status, quantity, _ in rows:
            totals[(product_id, status)] += quantity
        assert nonzero(totals) == nonzero(self.units), "units per product and status != model"
        # Units shipped in the ledger are units shipped on order lines, product by product.
        ledger_shipped = dict(
            StockMove.objects.filter(reason=StockMove.Reason.SHIP)
            .values("product_id")
            .annotate(n=Sum("quantity"))
            .values_list("product_id", "n")
        )
        lines_shipped = dict(
            OrderLine.objects.filter(quantity_shipped__gt=0)
            .values("product_id")
            .annotate(n=Sum("quantity_shipped"))
            .values_list("product_id", "n")
        )
        assert ledger_shipped == lines_shipped

    def _allocations_hold(self) -> None:
        self._allocation_choices_hold()
        balances = {
            row[0]: row[1:]
            for row in StockBalance.objects.values_list(
                "id", "location_id", "product_id", "lot_id", "allocated", "location__zone__kind"
            )
        }
        live: Counter[int] = Counter()
        allocations = Allocation.objects.values_list(
            "id",
            "balance_id",
            "location_id",
            "product_id",
            "lot_id",
            "status",
            "quantity",
            "order_line__order__status",
        )
        open_task_allocations = set(
            PickTask.objects.filter(status=PickTask.Status.OPEN).values_list(
                "allocation_id", flat=True
            )
        )
        for pk, balance_id, location_id, product_id, lot_id, status, quantity, order in allocations:
            if status not in (RESERVED, PICKED):
                continue
            live[balance_id] += quantity
            b_location, b_product, b_lot, _, kind = balances[balance_id]
            assert (location_id, product_id, lot_id) == (b_location, b_product, b_lot)
            if status == RESERVED:
                assert kind in Zone.STOCKING_KINDS
                assert order in (OS.ALLOCATED, OS.PARTIALLY_ALLOCATED, OS.RELEASED)
                # A released order's reserved units are all on open pick tasks.
                assert order != OS.RELEASED or pk in open_task_allocations
            else:
                assert kind == Zone.Kind.STAGING
                assert order in (OS.RELEASED, OS.PICKED, OS.PACKED)
        for balance_id, (*_, allocated, _) in balances.items():
            assert allocated == live[balance_id], f"balance {balance_id}: allocated != allocations"
        for (
            task_status,
            quantity,
            picked,
            a_status,
            a_quantity,
            a_location,
            location,
        ) in PickTask.objects.values_list(
            "status",
            "quantity",
            "quantity_picked",
            "allocation__status",
            "allocation__quantity",
            "allocation__location_id",
            "location_id",
        ):
            if task_status == PickTask.Status.OPEN:
                assert (a_status, a_quantity, a_location) == (RESERVED, quantity, location)
            elif task_status in (PickTask.Status.PICKED, PickTask.Status.SHORT):
                assert a_quantity == picked

    def _allocation_choices_hold(self) -> None:
        """Live allocations respect the customer's shelf life, and none was made in a bin after
        a short pick there asked for a count of the product (allocation avoids such bins)."""
        tz = self.world.customers[0].warehouse.tzinfo
        for expiry, window_end, customer_days, product_days in Allocation.objects.filter(
            status__in=[RESERVED, PICKED], lot__expiry_date__isnull=False
        ).values_list(
            "lot__expiry_date",
            "order_line__order__promised_window_end",
            "order_line__order__customer__min_remaining_shelf_life_days",
            "product__min_remaining_shelf_life_days",
        ):
            days = product_days if customer_days is None else customer_days
            assert expiry >= timezone.localtime(window_end, tz).date() + dt.timedelta(days=days)
        blocked = CountRequest.objects.filter(
            status=CountRequest.Status.OPEN,
            reason=CountRequest.Reason.SHORT_PICK,
            location_id=OuterRef("location_id"),
            product_id=OuterRef("product_id"),
            created_at__lt=OuterRef("created_at"),
        )
        assert not Allocation.objects.filter(status=RESERVED).filter(Exists(blocked)).exists()

    def _orders_hold(self) -> None:
        by_line: dict[int, Counter[str]] = defaultdict(Counter)
        for line_id, status, quantity in Allocation.objects.values_list(
            "order_line_id", "status", "quantity"
        ):
            by_line[line_id][status] += quantity
        on_shipments = dict(
            ShipmentLine.objects.values("order_line_id")
            .annotate(n=Sum("quantity"))
            .values_list("order_line_id", "n")
        )
        delivered = dict(
            DeliveryLine.objects.values("order_line_id")
            .annotate(n=Sum("quantity_delivered"))
            .values_list("order_line_id", "n")
        )
        open_tasks = set(
            PickTask.objects.filter(status=PickTask.Status.OPEN).values_list(
                "order_line__order_id", flat=True
            )
        )
        per_order: dict[int, list[tuple]] = defaultdict(list)
        for row in OrderLine.objects.values_list(
            "id",
            "order_id",
            "order__status",
            "quantity",
            "quantity_allocated",
            "quantity_backordered",
            "quantity_picked",
            "quantity_shipped",
        ):
            line_id, order_id, status, quantity, allocated, backordered, picked, shipped = row
            per_order[order_id].append(row)
            counts = by_line[line_id]
            assert 0 <= allocated <= quantity and 0 <= shipped <= quantity
            if status == OS.CANCELLED:
                assert allocated == backordered == 0
                assert counts[RESERVED] == counts[PICKED] == counts[SHIPPED] == 0
            else:
                assert allocated == counts[RESERVED] + counts[PICKED] + counts[SHIPPED]
            assert (
                shipped == counts[SHIPPED] == on_shipments.get(line_id, 0) == self.shipped[line_id]
            )
            assert picked == self.picked[line_id]
            assert delivered.get(line_id, 0) == self.delivered[line_id] <= shipped
            if status == OS.NEW:
                assert allocated == backordered == 0
            elif status in (OS.DISPATCHED, OS.DELIVERED):
                assert backordered == 0
                assert counts[RESERVED] == counts[PICKED] == 0
            elif status != OS.CANCELLED:
                assert backordered == quantity - allocated
        for order_id, rows in per_order.items():
            status = rows[0][2]
            allocated = [row[4] for row in rows]
            wanted = [row[3] for row in rows]
            assert (status == OS.RELEASED) == (order_id in open_tasks)
            if status == OS.BACKORDERED:
                assert sum(allocated) == 0
            elif status == OS.ALLOCATED:
                assert allocated == wanted
            elif status == OS.PARTIALLY_ALLOCATED:
                assert 0 < sum(allocated) < sum(wanted)
        live = Counter(
            Shipment.objects.filter(status__in=LIVE_SHIPMENT).values_list("order_id", flat=True)
        )
        for order_id, statuses in self.statuses["order"].items():
            if statuses in (OS.RELEASED, OS.PICKED, OS.PACKED):
                assert live[order_id] == 1, f"order {order_id} ({statuses}) without its shipment"

    def _inbound_holds(self) -> None:
        scanned: dict[int, Counter[str]] = defaultdict(Counter)
        for line_id, quantity, is_damaged in ReceiptScan.objects.values_list(
            "line_id", "quantity", "is_damaged"
        ):
            scanned[line_id]["received"] += quantity
            scanned[line_id]["damaged"] += quantity if is_damaged else 0
        for line_id, received, damaged in InboundLine.objects.values_list(
            "id", "received_quantity", "damaged_quantity"
        ):
            assert (received, damaged) == (
                scanned[line_id]["received"],
                scanned[line_id]["damaged"],
            )
        # An ASN is received while work on it is open, closed once there is none.
        busy = set(
            Inspection.objects.filter(status=Inspection.Status.PENDING).values_list(
                "receipt__shipment_id", flat=True
            )
        ) | set(
            PutawayTask.objects.filter(status=PutawayTask.Status.OPEN).values_list(
                "receipt__shipment_id", flat=True
            )
        )
        for asn_id, status in self.statuses["asn"].items():
            if status == InboundShipment.Status.RECEIVED:
                assert asn_id in busy, f"ASN {asn_id} received with no work open"
            elif status == InboundShipment.Status.CLOSED:
                assert asn_id not in busy, f"ASN {asn_id} closed with work open"
        for kind, arrived in PutawayTask.objects.filter(status=PutawayTask.Status.DONE).values_list(
            "confirmed_location__zone__kind", "receipt__shipment__arrived_at"
        ):
            assert kind in Zone.STOCKING_KINDS and arrived is not None

    def _waves_hold(self) -> None:
        """Lists are done exactly when no task is open, waves completed exactly when no list
        is, and an order is in the wave its status says."""
        open_tasks = set(
            PickTask.objects.filter(status=PickTask.Status.OPEN).values_list(
                "pick_list_id", flat=True
            )
        )
        working = {PickList.Status.OPEN, PickList.Status.IN_PROGRESS}
        busy_waves = set()
        for list_id, wave_id, status in PickList.objects.values_list("id", "wave_id", "status"):
            assert (status in working) == (list_id in open_tasks), f"list {list_id} is {status}"
            if status in working:
                busy_waves.add(wave_id)
        waves = self.statuses["wave"]
        for wave_id, status in waves.items():
            if status == Wave.Status.RELEASED:
                assert wave_id in busy_waves
            elif status == Wave.Status.COMPLETED:
                assert wave_id not in busy_waves
        for order_id, wave_id in Order.objects.values_list("id", "wave_id"):
            status = self.statuses["order"][order_id]
            if status in Order.WAVEABLE and wave_id is not None:
                assert waves[wave_id] == Wave.Status.PLANNED
            elif status == OS.RELEASED:
                assert waves[wave_id] == Wave.Status.RELEASED
            elif status in (OS.NEW, OS.BACKORDERED):
                assert wave_id is None


@pytest.mark.django_db
def test_the_whole_flow_keeps_its_invariants(site, users, settings, capsys):
    """Receive, inspect, put away, allocate, pick, ship, adjust and count in any order."""
    # Pick lists stay small (at most 6 lines a wave asks for, plus re-allocations), so most
    # paths are solved exactly; a short OR-Tools limit keeps the rest from dominating.
    settings.DOCKSIDE = {**settings.DOCKSIDE, "PICK_PATH_TIME_LIMIT_MS": 10}
    layout = sf.add_outbound_layout(site, pick_faces=2)
    today = timezone.localdate()
    ambient = wf.make_product(sku="FL-AMB", unit_weight_kg=Decimal("0.5"))
    # 20 kg a unit: 50 fill a 1,000 kg bin, so proposals run out and capacity refusals happen.
    heavy = wf.make_product(
        sku="FL-HVY", case=None, unit_weight_kg=Decimal(20), unit_volume_m3=Decimal("0.02")
    )
    chilled = wf.make_product(
        sku="FL-CHL",
        case=6,
        storage_class="chilled",
        is_lot_tracked=True,
        is_expiry_tracked=True,
        min_remaining_shelf_life_days=10,
    )
    # L0 is short-dated (no customer may get it), L1 too short for the demanding customer.
    lots = [
        wf.make_lot(chilled, "L1", today + dt.timedelta(days=200)),
        wf.make_lot(chilled, "L2", today + dt.timedelta(days=400)),
        wf.make_lot(chilled, "L0", today + dt.timedelta(days=5)),
    ]
    people = {
        **users,
        "picker2": make_user("picker2", PICKER, site=site),
    }
    world = World(
        warehouse_id=site.warehouse.id,
        dock_door=site.doors[0],
        outbound_door=layout.door,
        staging=site.staging,
        lanes=layout.lanes,
        not_staging=site.quarantine,
        bins=[*site.bins, *site.chilled_bins, *layout.pick_faces],
        locations=list(
            Location.objects.filter(warehouse=site.warehouse).select_related("zone").order_by("id")
        ),
        products=[ambient, heavy, chilled],
        lots={chilled.id: lots},
        unknown_gtin=wf.make_gtin(),
        suppliers=[
            rf.make_supplier("flow-plain"),
            rf.make_supplier("flow-qa", requires_inspection=True),
        ],
        customers=[
            sf.make_customer(site.warehouse, code="flow-customer"),
            sf.make_customer(site.warehouse, code="flow-fresh", min_remaining_shelf_life_days=300),
        ],
        users=people,
    )

    class Machine(FlowMachine):
        pass

    Machine.world = world
    STATS.clear()
    run_state_machine_as_test(
        Machine,
        settings=settings_for_run(),
    )
    with capsys.disabled():
        print(f"\nflow state machine: {STATS['examples']} examples, {STATS['steps']} steps")
        for name, count in sorted(STATS.items()):
            if ":" in name:
                print(f"  {name}: {count}")


def settings_for_run() -> run_settings:
    return run_settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
