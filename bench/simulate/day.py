"""What a simulated day carries from phase to phase: the people (logged-in clients), the
warehouse's master data as the API shows it, the random streams, and what the simulator
counted itself from its own requests and answers."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bench.simulate.client import Client, ServerError, Tally, login

PASSWORD = "dockside-demo"


@dataclass
class Counted:
    """The simulator's own figures, from what it sent and what the service answered."""

    trucks: int = 0
    trucks_late: int = 0
    asn_lines: int = 0
    units_expected: int = 0
    units_received: int = 0
    scans_accepted: int = 0
    scans_refused: Counter = field(default_factory=Counter)
    replays_sent: int = 0
    replays_matching: int = 0
    discrepancies: Counter = field(default_factory=Counter)
    receipts_closed: int = 0
    overrides: int = 0
    inspections_passed: int = 0
    inspections_failed: int = 0
    putaways: int = 0
    putaways_elsewhere: int = 0  # the proposed bin had filled up (or none was proposed)
    dock_to_stock_seconds: list[int] = field(default_factory=list)
    orders: int = 0
    order_lines: int = 0
    units_ordered: int = 0
    backordered_at_allocation: int = 0
    waves: int = 0
    pick_lists: int = 0
    tasks_picked_complete: int = 0  # picked in full, no wrong scans
    tasks_short: int = 0
    tasks_closed: int = 0
    skips: int = 0
    wrong_bin_scans: int = 0
    units_picked: int = 0
    shipments_packed: int = 0
    packages: int = 0
    vehicles_used: int = 0
    km: float = 0.0
    stops_planned: int = 0
    stops_dropped: Counter = field(default_factory=Counter)
    shipments_dispatched: int = 0
    deliveries: int = 0
    on_time: int = 0
    in_full: int = 0
    on_time_in_full: int = 0
    refused: int = 0
    partial: int = 0
    late: int = 0
    lines_shipped_full: int = 0
    lines_shipped: int = 0  # order lines of dispatched orders
    units_shipped_capped: int = 0  # sum of min(shipped, ordered)
    units_ordered_shipped: int = 0  # ordered units of dispatched orders
    units_delivered: int = 0  # units handed over (the proof-of-delivery lines)
    rmas: int = 0
    rma_lines: int = 0
    units_returned: int = 0  # units of the return scans answered 201 (replays once)
    returned_damaged: int = 0
    dispositions: Counter = field(default_factory=Counter)  # kind -> units
    restock_putaways: int = 0
    count_tasks: int = 0  # the day's counts (short picks' and the manager's requests)
    counts_submitted: int = 0  # count attempts submitted (first counts and recounts)
    counts_over_threshold: int = 0  # attempts the service sent for a recount or review
    recounts: int = 0
    counts_done: int = 0
    counts_accurate: int = 0  # done with no variance on the closing count
    counts_adjusted: int = 0  # done with a variance posted (an adjustment move)
    errors: list[str] = field(default_factory=list)


@dataclass
class Product:
    id: int
    sku: str
    gtin: str
    weight_kg: float
    storage_class: str
    is_lot_tracked: bool
    is_expiry_tracked: bool
    case_gtin: str
    case_quantity: int


@dataclass
class Day:
    base_url: str
    seed: int
    scale: float
    date: dt.date
    tally: Tally
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    warehouse_id: int = 0
    warehouse_code: str = ""
    people: dict[str, Client] = field(default_factory=dict)
    pickers: list[Client] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)
    stock_by_sku: dict[str, int] = field(default_factory=dict)
    customers: list[dict] = field(default_factory=list)
    vehicles: list[str] = field(default_factory=list)
    suppliers: list[str] = field(default_factory=list)
    locations_by_code: dict[str, int] = field(default_factory=dict)
    bins_by_class: dict[str, list[str]] = field(default_factory=dict)  # storage bins, by code
    # Order number -> {"id", "customer", "window": (start, end), "lines": {line id: ordered}}
    orders: dict[str, dict] = field(default_factory=dict)
    # Order number -> order line id -> units picked (what leaves on the shipment).
    picked: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    shipments: dict[str, dict] = field(default_factory=dict)  # shipment number -> detail
    # Order number -> product id -> lot code ("" without) -> units picked: which lots left.
    picked_lots: dict[str, dict[int, Counter]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter))
    )
    # Order number -> product id -> units handed over at the door.
    handed: dict[str, dict[int, int]] = field(default_factory=dict)
    # What the simulator believes is in each storage and pick-face bin, from the opening
    # balances and its own putaways and picks: (bin code, SKU, lot code or "") -> units.
    bin_stock: Counter = field(default_factory=Counter)
    doors: list[int] = field(default_factory=list)  # inbound dock doors (ids)
    route_plan: dict | None = None
    counted: Counted = field(default_factory=Counted)
    work_days: set[dt.date] = field(default_factory=set)  # local days the work was done on
    # (metric, period, (numerator, denominator) counted, the same read from the admin)
    kpi_checks: list[tuple] = field(default_factory=list)
    report_found: bool = False
    invariants: list[tuple[str, bool, str]] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def delivery_date(self) -> dt.date:
        return self.date + dt.timedelta(days=1)

    def rng(self, *stream: object) -> random.Random:
        """A random stream of its own for one actor or decision, derived from the seed: what
        one truck, picker or stop does never depends on how many draws others made."""
        return random.Random(f"{self.seed}:" + ":".join(str(part) for part in stream))

    def scaled(self, count: int, minimum: int = 1) -> int:
        return max(minimum, round(count * self.scale))

    def local(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.tz)

    def now_local_day(self) -> dt.date:
        return dt.datetime.now(self.tz).date()

    def note_work_day(self) -> None:
        self.work_days.add(self.now_local_day())

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the simulator's own figures (from any thread)."""
        with self.tally.lock:
            setattr(self.counted, name, getattr(self.counted, name) + amount)

    def error(self, text: str) -> None:
        self.counted.errors.append(text)

    def move_in_bin(self, bin_code: str, sku: str, lot: str | None, units: int) -> None:
        """Units put into (+) or picked from (-) a bin, as the simulator saw it done."""
        with self.tally.lock:
            self.bin_stock[(bin_code, sku, lot or "")] += units

    def login(self, username: str) -> Client:
        return login(self.base_url, self.tally, username, PASSWORD)

    @property
    def manager(self) -> Client:
        return self.people["manager"]

    @property
    def dock(self) -> Client:
        return self.people["dock"]

    @property
    def inspector(self) -> Client:
        return self.people["inspector"]

    @property
    def dispatcher(self) -> Client:
        return self.people["dispatcher"]


def wait_for_background(day: Day, *, timeout: float = 300.0, what: str = "") -> None:
    """Poll GET /background-work/ until every outbox message is applied (the follow-up work
    of the requests so far: backorder re-allocation, route solving, KPI runs)."""
    deadline = time.monotonic() + timeout
    # Short steps: the work is mostly a few tasks of a second or less, and every tenth of a
    # second waited here is a tenth of a second of the day's wall time.
    delay = 0.1
    while True:
        body = day.manager.expect(
            day.manager.get("background-work/", operation="GET background-work/"), 200
        )
        if body["waiting"] == 0:
            return
        if time.monotonic() > deadline:
            raise ServerError(
                f"background work still waiting after {timeout:.0f} s ({what}): {body}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
