"""Pick confirmations in parallel transactions: who waits for whom, and deadlock victims.

- Into a staging location without a capacity limit a confirmation locks no location row
  (`warehouse.locking`, rule 1), so one picker's open confirmation does not hold up another's.
- Into one with a limit the location is still locked until commit, so two confirmations can
  never both fit where only one does.
- A confirmation PostgreSQL aborts as a deadlock victim is run again, idempotency claim
  included, and the picker gets the success (the API, and the pick pages' service call).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction

from shipping import services
from shipping.models import Order, OutboundEvent, PickTask
from tests.conftest import client_for
from tests.factories import shipping as sf
from tests.factories import states
from tests.factories import warehouse as wf
from warehouse import selectors
from warehouse import services as inventory
from warehouse.errors import CapacityExceeded
from warehouse.models import IdempotencyRecord, Location, StockBalance, StockMove

pytestmark = pytest.mark.django_db(transaction=True)

# Only reached when something waits that should not, or a thread hangs: then the test fails.
WAIT_SECONDS = 30
LOCK_NOT_AVAILABLE = "55P03"
DEADLOCK_DETECTED = "40P01"


def confirm(task: PickTask, **extra):
    return services.confirm_pick(
        task_id=task.id,
        bin_code=task.location.code,
        item_scan=task.product.gtin,
        quantity=task.quantity,
        actor=task.pick_list.picker,
        **extra,
    )


def two_tasks_staged_alike(site, picker) -> tuple[PickTask, PickTask]:
    """Open tasks of two started pick lists (two waves, two products of 1.5 kg, bins of their
    own) that both bring their goods to the same staging location."""
    layout = sf.add_outbound_layout(site)
    tasks = []
    for number in (1, 2):
        product = wf.make_product(sku=f"STAGE-{number}", unit_weight_kg=Decimal("1.5"))
        task = states.started_pick_task(layout, product, picker)
        tasks.append(
            PickTask.objects.select_related("location", "product", "pick_list").get(id=task.id)
        )
    first, second = tasks
    assert first.pick_list.staging_location_id == second.pick_list.staging_location_id
    assert (first.quantity, second.quantity) == (2, 2)
    return first, second


class Held:
    """Run `work` in a thread, inside a transaction kept open until `release()`."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.ready = threading.Event()
        self.go = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(work,))
        self.thread.start()
        assert self.ready.wait(WAIT_SECONDS), "the held transaction did not get going"
        assert not self.errors, self.errors

    def _run(self, work) -> None:
        try:
            with transaction.atomic():
                work()
                self.ready.set()
                assert self.go.wait(WAIT_SECONDS)
        except BaseException as error:
            self.errors.append(error)
            self.ready.set()
        finally:
            connection.close()

    def release(self) -> None:
        self.go.set()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors


def start_in_thread(
    work: Callable[[], object], *, lock_timeout: str = ""
) -> tuple[threading.Thread, list[object]]:
    """Start `work` in a thread with its own connection (giving up on a row lock after
    `lock_timeout`); the list gets its result or the exception it raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            if lock_timeout:
                with connection.cursor() as cursor:
                    cursor.execute(f"SET lock_timeout = '{lock_timeout}'")
            outcome.append(work())
        except BaseException as error:
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def in_thread(work: Callable[[], object], *, lock_timeout: str = "") -> object:
    thread, outcome = start_in_thread(work, lock_timeout=lock_timeout)
    thread.join(WAIT_SECONDS * 2)
    assert outcome, "the thread did not finish"
    return outcome[0]


def test_confirmations_into_one_uncapped_staging_location_do_not_wait(site, users):
    first, second = two_tasks_staged_alike(site, users["picker"])
    held = Held(lambda: confirm(first))
    # While the first confirmation is uncommitted, the second completes; with a location lock
    # it would wait for the first and give up after the lock timeout.
    outcome = in_thread(lambda: confirm(second), lock_timeout="5s")
    assert not isinstance(outcome, BaseException), outcome
    assert PickTask.objects.get(id=second.id).status == PickTask.Status.PICKED
    assert PickTask.objects.get(id=first.id).status == PickTask.Status.OPEN
    held.release()
    assert PickTask.objects.get(id=first.id).status == PickTask.Status.PICKED
    staged = StockBalance.objects.filter(location_id=first.pick_list.staging_location_id)
    assert sorted(staged.values_list("quantity", "allocated")) == [(2, 2), (2, 2)]
    assert selectors.list_ledger_mismatches() == []


def test_a_capped_staging_location_refuses_the_second_of_two_concurrent_confirmations(site, users):
    first, second = two_tasks_staged_alike(site, users["picker"])
    # Room for one task's 2 x 1.5 kg, not for both.
    staging_id = first.pick_list.staging_location_id
    Location.objects.filter(id=staging_id).update(max_weight_kg=Decimal("4"))
    held = Held(lambda: confirm(first))
    # The second waits for the first's location lock (here it gives up: nothing written) ...
    waited = in_thread(lambda: confirm(second), lock_timeout="200ms")
    assert isinstance(waited, OperationalError), waited
    assert waited.__cause__.sqlstate == LOCK_NOT_AVAILABLE
    # ... and, started again while the first is still open, once that has committed it sees
    # the load and is refused.
    thread, retried = start_in_thread(lambda: confirm(second))
    held.release()
    thread.join(WAIT_SECONDS * 2)
    assert len(retried) == 1 and isinstance(retried[0], CapacityExceeded), retried
    assert PickTask.objects.get(id=first.id).status == PickTask.Status.PICKED
    assert PickTask.objects.get(id=second.id).status == PickTask.Status.OPEN
    load_kg = sum(
        quantity * Decimal("1.5")
        for quantity in StockBalance.objects.filter(location_id=staging_id).values_list(
            "quantity", flat=True
        )
    )
    assert load_kg == Decimal("3")
    assert selectors.list_ledger_mismatches() == []


@pytest.mark.parametrize("through", ["api", "service"])
def test_a_confirmation_chosen_as_deadlock_victim_is_retried_and_succeeds(
    site, users, monkeypatch, through
):
    """The confirmation locks the order, then the balances; a second transaction locks the
    bin's balance, then (once the confirmation holds the order and goes for the balances) the
    order: a deadlock. PostgreSQL aborts the confirmation (the other one's deadlock_timeout is
    long), which is then run again and succeeds once the other has committed."""
    layout = sf.add_outbound_layout(site)
    task = states.started_pick_task(layout, wf.make_product(sku="DEAD-1"), users["picker"])
    task = PickTask.objects.select_related("location", "product", "pick_list", "allocation").get(
        id=task.id
    )
    order_id = task.order_line.order_id
    holds_order = threading.Event()
    attempts: list[int] = []
    lock_balances = inventory.lock_balances

    def lock_balances_spied(balance_ids):
        attempts.append(1)
        if len(attempts) == 1:
            holds_order.set()  # this transaction holds the order row and goes on to balances
        return lock_balances(balance_ids)

    monkeypatch.setattr(inventory, "lock_balances", lock_balances_spied)

    other_ready = threading.Event()
    other_errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL deadlock_timeout = '60s'")
                balance_id = task.allocation.balance_id
                StockBalance.objects.select_for_update(no_key=True).get(id=balance_id)
                other_ready.set()
                assert holds_order.wait(WAIT_SECONDS)
                Order.objects.select_for_update().get(id=order_id)
        except BaseException as error:
            other_errors.append(error)
            other_ready.set()
        finally:
            connection.close()

    other = threading.Thread(target=other_writer)
    other.start()
    assert other_ready.wait(WAIT_SECONDS)
    key = str(uuid.uuid4())
    if through == "api":
        client = client_for(users["picker"])
        body = {"bin": task.location.code, "item": task.product.gtin, "quantity": task.quantity}

        def work():
            response = client.post(
                f"/api/v1/pick-tasks/{task.id}/confirm/",
                body,
                format="json",
                headers={"Idempotency-Key": key},
            )
            return response.status_code, response.json()

        outcome = in_thread(work)
        assert not isinstance(outcome, BaseException), outcome
        assert outcome[0] == 200, outcome
        assert outcome[1]["status"] == PickTask.Status.PICKED
        assert IdempotencyRecord.objects.filter(key=key).count() == 1
    else:
        outcome = in_thread(lambda: confirm(task, idempotency_key=key))
        assert not isinstance(outcome, BaseException), outcome
        assert outcome.status == PickTask.Status.PICKED
        assert OutboundEvent.objects.filter(idempotency_key=key).count() == 1
    other.join(WAIT_SECONDS)
    assert not other.is_alive() and other_errors == []
    assert len(attempts) == 2, "the confirmation was not a deadlock victim, or not retried"
    assert PickTask.objects.get(id=task.id).status == PickTask.Status.PICKED
    assert StockMove.objects.filter(reason=StockMove.Reason.PICK).count() == 1
    assert selectors.list_ledger_mismatches() == []
