"""Cycle counts through the services: the ABC rule, blind counts with moves during the count,
recounts by another counter, approval and the inventory record accuracy KPI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from shipping import services as outbound
from shipping.kpis.compute import recompute_kpis
from shipping.models import KpiSnapshot
from tests.conftest import make_user
from tests.factories import shipping as sf
from tests.factories import states
from tests.factories import warehouse as wf
from warehouse import services as inventory
from warehouse.counts import rules
from warehouse.counts import services as counting
from warehouse.errors import CounterNotAllowed, InvalidTransition, WrongCountScan
from warehouse.models import (
    CountLine,
    CountRequest,
    Lot,
    PackSize,
    StockBalance,
    StockMove,
)
from warehouse.selectors import list_ledger_mismatches

pytestmark = pytest.mark.django_db

Stage = CountRequest.Stage


@pytest.fixture
def thresholds(settings):
    """Default thresholds of the tests: 2 units, 50.00 of value."""

    def set_to(units: int = 2, value: str = "50.00") -> None:
        settings.DOCKSIDE = {
            **settings.DOCKSIDE,
            "COUNT_VARIANCE_UNITS": units,
            "COUNT_VARIANCE_VALUE": value,
        }

    set_to()
    return set_to


@pytest.fixture
def people(site, users):
    return {
        "counter": users["inspector"],
        "second": make_user("inspector2", "inspector", site=site),
        "manager": users["manager"],
        "boss": make_user("manager2", "manager", site=site),
    }


def on_hand(location, product) -> int:
    return sum(
        StockBalance.objects.filter(location=location, product=product).values_list(
            "quantity", flat=True
        )
    )


def bin_count(site, bin_, people) -> CountRequest:
    return counting.request_counts(location=bin_, actor=people["manager"])[0]


def count(request: CountRequest, counter, counted: dict, *, start: bool = True):
    """Start (unless started), count `counted` ({scan: quantity}) and submit."""
    if start:
        counting.start_count(request_id=request.id, bin_code=request.location.code, actor=counter)
    for number, (scan, quantity) in enumerate(counted.items()):
        counting.record_count(
            request_id=request.id,
            scan=scan,
            quantity=quantity,
            replace=True,
            key=f"{request.id}-{counter.pk}-{number}-{scan}",
            actor=counter,
        )
    return counting.submit_count(request_id=request.id, actor=counter, key=f"submit-{counter.pk}")


# --- the ABC rule ---------------------------------------------------------------------------------


def test_abc_classes_and_the_days_counts_worked_out_by_hand(site, product):
    """Five products in stock, ranked by picks in the last 90 days: P3 (3 picks), P1 (2),
    P5 (2; SKU after P1), P2 (0), P4 (0). A = ceil(5 x 0.2) = 1 product, B = up to
    ceil(5 x 0.5) = 3, C the rest. Each class has ceil(pairs / interval) = 1 count a day: the
    never-counted pair in the first bin code goes first."""
    wh = site.warehouse
    p = {n: wf.make_product(sku=f"P{n}") for n in range(1, 6)}
    bins = site.bins
    placed = {1: bins[0], 2: bins[0], 3: bins[1], 4: bins[2], 5: bins[3]}
    for n, bin_ in placed.items():
        inventory.receive_stock(location_id=bin_.id, product_id=p[n].id, quantity=10)
    for n, picks in {3: 3, 1: 2, 5: 2}.items():
        for _ in range(picks):
            inventory.move_stock(
                from_location_id=placed[n].id,
                to_location_id=site.staging.id,
                product_id=p[n].id,
                quantity=1,
                reason=StockMove.Reason.PICK,
            )
    # Picks made today count for tomorrow's classes (the look-back ends at the day's start).
    day = timezone.localdate(timezone=wh.tzinfo) + dt.timedelta(days=1)
    classes = rules.classify_products(warehouse=wh, day=day)
    assert classes == {p[3].id: "A", p[1].id: "B", p[5].id: "B", p[2].id: "C", p[4].id: "C"}
    # Today the picks are not in the look-back yet: all rank 0, by SKU: P1 | P2 P3 | P4 P5.
    today = rules.classify_products(warehouse=wh, day=day - dt.timedelta(days=1))
    assert [today[p[n].id] for n in range(1, 6)] == ["A", "B", "B", "C", "C"]

    made = rules.create_counts_for_day(warehouse=wh, day=day)
    assert {(r.location_id, r.product_id, r.abc_class, r.due_date) for r in made} == {
        (bins[1].id, p[3].id, "A", day),
        (bins[0].id, p[1].id, "B", day),  # A-01-01-1 before A-04-01-1
        (bins[0].id, p[2].id, "C", day),  # A-01-01-1 before A-03-01-1
    }
    assert all(r.reason == CountRequest.Reason.RULE for r in made)
    # Idempotent: the day's quota is filled.
    assert rules.create_counts_for_day(warehouse=wh, day=day) == []
    # The next day the open ones are not due again; the other pairs of B and C are.
    next_day = rules.create_counts_for_day(warehouse=wh, day=day + dt.timedelta(days=1))
    assert {(r.location_id, r.product_id, r.abc_class) for r in next_day} == {
        (bins[3].id, p[5].id, "B"),
        (bins[2].id, p[4].id, "C"),
    }
    # The management command does the same for a date: nothing left for these days.
    call_command("create_cycle_counts", date=(day + dt.timedelta(days=1)).isoformat())
    assert CountRequest.objects.filter(reason="rule").count() == 5


def test_a_counted_pair_is_not_due_again_within_its_interval(site, product, people, thresholds):
    wh = site.warehouse
    inventory.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=4)
    today = timezone.localdate(timezone=wh.tzinfo)
    (task,) = rules.create_counts_for_day(warehouse=wh, day=today)
    assert task.abc_class == "A"  # the only product: ceil(1 x 0.2) = 1
    count(task, people["counter"], {"AMB-1": 4})
    task.refresh_from_db()
    assert task.status == CountRequest.Status.DONE and task.is_accurate
    # Class A: monthly. 29 days later not due, 30 days later due.
    assert rules.create_counts_for_day(warehouse=wh, day=today + dt.timedelta(days=29)) == []
    assert len(rules.create_counts_for_day(warehouse=wh, day=today + dt.timedelta(days=30))) == 1


# --- blind counts and the ledger -----------------------------------------------------------------


def test_a_ledger_move_during_the_count_is_accounted_for(site, product, people, thresholds):
    """10 in the bin at the start; 3 are picked while the counter counts; the counter finds 6.
    Expected = 10 + (-3) = 7, variance -1: within 2 units, adjusted at once."""
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    task = bin_count(site, bin_, people)
    counting.start_count(request_id=task.id, bin_code=bin_.code.lower(), actor=people["counter"])
    inventory.move_stock(
        from_location_id=bin_.id,
        to_location_id=site.staging.id,
        product_id=product.id,
        quantity=3,
        reason=StockMove.Reason.PICK,
    )
    outcome = count(task, people["counter"], {product.gtin: 6}, start=False)

    assert outcome.status == CountRequest.Status.DONE
    line = CountLine.objects.get(attempt__request=task)
    assert (line.expected_at_start, line.ledger_moves, line.counted, line.variance) == (
        10,
        -3,
        6,
        -1,
    )
    assert on_hand(bin_, product) == 6
    move = StockMove.objects.get(reason=StockMove.Reason.COUNT)
    assert (move.from_location_id, move.quantity, move.reference) == (
        bin_.id,
        1,
        f"count:{task.id}",
    )
    assert move.actor == people["counter"]
    task.refresh_from_db()
    assert (task.variance_units, task.is_accurate, task.stage) == (1, False, Stage.CLOSED)
    assert list_ledger_mismatches() == []


def test_a_real_pick_during_the_count_gives_no_variance(site, product, people, thresholds):
    """A picker picks the 2 units of a pick-face bin through the shipping services while it is
    counted; the counter finds it empty: expected 2 - 2 = 0, variance 0, accurate."""
    layout = sf.add_outbound_layout(site)
    picker = make_user("picker2", "picker", site=site)
    task = states.started_pick_task(layout, product, picker)
    count_task = counting.request_counts(location=task.location, actor=people["manager"])[0]
    counting.start_count(
        request_id=count_task.id, bin_code=task.location.code, actor=people["counter"]
    )
    outbound.confirm_pick(
        task_id=task.id,
        bin_code=task.location.code,
        item_scan=product.gtin,
        quantity=2,
        actor=picker,
        idempotency_key="pick-1",
    )
    outcome = count(count_task, people["counter"], {product.sku: 0}, start=False)

    assert outcome.status == CountRequest.Status.DONE
    line = CountLine.objects.get(attempt__request=count_task)
    assert (line.expected_at_start, line.ledger_moves, line.variance) == (2, -2, 0)
    count_task.refresh_from_db()
    assert count_task.is_accurate is True
    assert not StockMove.objects.filter(reason=StockMove.Reason.COUNT).exists()
    assert list_ledger_mismatches() == []


def test_recount_by_another_counter_then_manager_approval(site, product, people, thresholds):
    """Expected 10, counted 5: over 2 units. The same counter may not recount (403); another
    counts 6, still over: review. The manager approves; -4 is posted in the manager's name."""
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    task = bin_count(site, bin_, people)
    first = count(task, people["counter"], {product.gtin: 5})
    assert (first.status, first.stage) == ("open", Stage.TO_RECOUNT)
    assert "Another counter" in first.message
    assert on_hand(bin_, product) == 10  # nothing posted yet

    with pytest.raises(CounterNotAllowed, match="different counter"):
        counting.start_count(request_id=task.id, bin_code=bin_.code, actor=people["counter"])
    second = count(task, people["second"], {product.gtin: 6})
    assert second.stage == Stage.REVIEW
    with pytest.raises(InvalidTransition):
        counting.start_count(request_id=task.id, bin_code=bin_.code, actor=people["boss"])

    # A unit is picked after the submission: the approved variance applies to what is there.
    inventory.move_stock(
        from_location_id=bin_.id,
        to_location_id=site.staging.id,
        product_id=product.id,
        quantity=1,
        reason=StockMove.Reason.PICK,
    )
    counting.approve_count(request_id=task.id, actor=people["manager"])
    task.refresh_from_db()
    assert (task.status, task.approved_by, task.variance_units) == ("done", people["manager"], 4)
    assert on_hand(bin_, product) == 5  # 10 - 1 picked - 4 lost
    move = StockMove.objects.get(reason=StockMove.Reason.COUNT)
    assert (move.quantity, move.actor, move.from_location_id) == (4, people["manager"], bin_.id)
    assert "count #2 by inspector2" in move.note
    assert list_ledger_mismatches() == []


def test_a_manager_does_not_approve_their_own_count(site, product, people, thresholds):
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    task = bin_count(site, bin_, people)
    count(task, people["manager"], {product.gtin: 1})
    with pytest.raises(CounterNotAllowed):
        counting.approve_count(request_id=task.id, actor=people["manager"])
    counting.approve_count(request_id=task.id, actor=people["boss"])  # skips the recount
    assert on_hand(bin_, product) == 1


def test_the_value_threshold_asks_for_a_recount(site, product, people, thresholds):
    """2 units short is within 2 units, but at 30.00 a unit it is 60.00 > 50.00."""
    product.unit_cost = Decimal("30.00")
    product.save()
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    assert count(bin_count(site, bin_, people), people["counter"], {product.gtin: 8}).stage == (
        Stage.TO_RECOUNT
    )
    thresholds(units=2, value="60.00")
    bin_ = site.bins[1]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    outcome = count(bin_count(site, bin_, people), people["counter"], {product.gtin: 8})
    assert outcome.status == CountRequest.Status.DONE


def test_found_stock_lots_cases_and_wrong_items(site, product, lot_product, people, thresholds):
    """A whole-bin count: a case label counts 12, GS1 labels carry the lot, an unknown lot is
    found stock; an item from another product's count is refused."""
    thresholds(units=100)
    case_gtin = wf.make_gtin()
    PackSize.objects.filter(product=product, name="case").update(gtin=case_gtin)
    bin_ = site.chilled_bins[0]
    lot = wf.make_lot(lot_product, "L1")
    inventory.receive_stock(
        location_id=bin_.id, product_id=lot_product.id, lot_id=lot.id, quantity=5
    )
    task = bin_count(site, bin_, people)
    counter = people["counter"]
    counting.start_count(request_id=task.id, bin_code=bin_.code, actor=counter)
    with pytest.raises(WrongCountScan, match="lot-tracked"):
        counting.record_count(request_id=task.id, scan=lot_product.gtin, key="k0", actor=counter)
    for key in ("k1", "k1", "k2"):  # k1 twice: a retry is applied once
        counting.record_count(
            request_id=task.id, scan=f"(01){lot_product.gtin}(10)L1", key=key, actor=counter
        )
    counting.record_count(
        request_id=task.id, scan=lot_product.gtin, lot="L2", quantity=3, key="k3", actor=counter
    )
    with pytest.raises(WrongCountScan, match="Unknown item"):
        counting.record_count(request_id=task.id, scan="09501101530997", key="k4", actor=counter)
    counting.submit_count(request_id=task.id, actor=counter, key="s")
    lines = {
        line.lot.code: (line.expected_at_start, line.counted, line.variance)
        for line in CountLine.objects.filter(attempt__request=task).select_related("lot")
    }
    assert lines == {"L1": (5, 2, -3), "L2": (0, 3, 3)}
    assert Lot.objects.filter(product=lot_product, code="L2").exists()
    assert list_ledger_mismatches() == []

    # A count of one product in an ambient bin: a case counts 12; another product is refused.
    inventory.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=24)
    other = wf.make_product(sku="OTHER-1")
    task = counting.request_counts(location=site.bins[0], product=product, actor=people["manager"])[
        0
    ]
    counting.start_count(request_id=task.id, bin_code=site.bins[0].code, actor=counter)
    counting.record_count(request_id=task.id, scan=case_gtin, quantity=2, key="c1", actor=counter)
    with pytest.raises(WrongCountScan, match="only"):
        counting.record_count(request_id=task.id, scan=other.gtin, key="c2", actor=counter)
    assert counting.submit_count(request_id=task.id, actor=counter, key="s2").status == "done"
    assert CountLine.objects.get(attempt__request=task).variance == 0


def test_an_abandoned_count_waits_for_a_counter_again(site, product, people, thresholds):
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=3)
    task = bin_count(site, bin_, people)
    counting.start_count(request_id=task.id, bin_code=bin_.code, actor=people["counter"])
    with pytest.raises(InvalidTransition, match="is counting"):
        counting.start_count(request_id=task.id, bin_code=bin_.code, actor=people["second"])
    with pytest.raises(WrongCountScan, match="Wrong bin"):
        counting.start_count(request_id=task.id, bin_code="A-02-01-1", actor=people["second"])
    counting.abandon_count(request_id=task.id, actor=people["counter"])
    task.refresh_from_db()
    assert task.stage == Stage.TO_COUNT
    assert count(task, people["second"], {product.sku: 3}).status == "done"


def test_short_pick_counts_still_block_allocation_until_done(site, product, people, thresholds):
    """A count raised by a short pick keeps allocation out of the bin until it is closed."""
    from shipping.services.allocation import _load_candidates

    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=5)
    task = CountRequest.objects.create(
        warehouse=site.warehouse,
        location=bin_,
        product=product,
        reason=CountRequest.Reason.SHORT_PICK,
    )

    def candidates() -> int:
        by_product, _ = _load_candidates(
            warehouse_id=site.warehouse.id, products={product.id: False}, lock=False
        )
        return len(by_product.get(product.id, []))

    assert candidates() == 0
    counting.start_count(request_id=task.id, bin_code=bin_.code, actor=people["counter"])
    assert candidates() == 0  # still open while it is counted
    count(task, people["counter"], {product.gtin: 5}, start=False)
    assert candidates() == 1


# --- the KPI --------------------------------------------------------------------------------------


def test_inventory_record_accuracy_by_day_and_zone(site, product, people, thresholds):
    """Store zone: 3 bins counted, 1 without variance; pick zone: 1 of 1. Whole warehouse 2/4.
    A cancelled count and an open one are not counted."""
    thresholds(units=100)
    layout = sf.add_outbound_layout(site)
    bins = [site.bins[0], site.bins[1], site.bins[2], layout.pick_faces[0], site.bins[3]]
    counted = [4, 5, 1, 4, 4]
    for bin_, found in zip(bins, counted, strict=True):
        inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=4)
        task = bin_count(site, bin_, people)
        if bin_ is not site.bins[3]:
            count(task, people["counter"], {product.sku: found})
    counting.cancel_count(request_id=task.id, actor=people["manager"])
    bin_count(site, site.bins[3], people)  # open

    day = timezone.localdate(timezone=site.warehouse.tzinfo)
    recompute_kpis(date_from=day, date_to=day, warehouse_ids=[site.warehouse.id])
    rows = {
        (row.dimension, row.key): (row.numerator, row.denominator, row.label)
        for row in KpiSnapshot.objects.filter(metric="inventory_record_accuracy", date=day)
    }
    assert rows == {
        ("all", ""): (2, 4, "Whole warehouse"),
        ("zone", "store"): (1, 3, "Store"),
        ("zone", "pick"): (1, 1, "Pick face"),
    }
