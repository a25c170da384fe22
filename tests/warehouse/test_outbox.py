"""The transactional outbox: work recorded with the change, published when the broker is up,
applied once however often it is delivered."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from unittest import mock

import pytest
from celery import Celery, current_app, shared_task
from celery.exceptions import NotRegistered
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from kombu import Connection
from kombu.simple import SimpleQueue

from tests.factories import warehouse as wf
from warehouse import outbox
from warehouse.models import OutboxMessage, ProcessedMessage
from warehouse.services import receive_stock

applied: list[tuple[str, int]] = []


@shared_task(base=outbox.OutboxTask, name="tests.outbox_probe")
def outbox_probe(label: str, number: int) -> None:
    applied.append((label, number))


@shared_task(base=outbox.OutboxTask, outbox_atomic=False, name="tests.outbox_probe_own_txn")
def outbox_probe_own_transactions(label: str, number: int) -> None:
    applied.append((label, number))


@pytest.fixture(autouse=True)
def clear_applied():
    applied.clear()
    yield
    applied.clear()


def test_enqueued_work_runs_once_after_commit(db, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox.enqueue("tests.outbox_probe", "a", 1)
        assert applied == []  # nothing before the commit
    assert applied == [("a", 1)]
    message.refresh_from_db()
    assert message.published_at is not None
    assert ProcessedMessage.objects.filter(message_id=message.id).count() == 1


def test_rolled_back_work_never_exists(db, django_capture_on_commit_callbacks) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox.enqueue("tests.outbox_probe", "b", 2)
        raise RuntimeError("the change failed")
    assert applied == []
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("task_name", ["tests.outbox_probe", "tests.outbox_probe_own_txn"])
def test_a_redelivered_message_is_applied_once(db, task_name) -> None:
    message = OutboxMessage.objects.create(task=task_name, args=["c", 3])
    task = current_app.tasks[task_name]
    for _delivery in range(3):
        task.apply(args=message.args, kwargs={outbox.OUTBOX_KWARG: message.id})
    assert applied == [("c", 3)]
    assert ProcessedMessage.objects.filter(message_id=message.id).count() == 1


def test_a_task_called_directly_is_not_deduplicated(db) -> None:
    outbox_probe.apply(args=["d", 4])
    outbox_probe.apply(args=["d", 4])
    assert applied == [("d", 4), ("d", 4)]


def test_stock_arriving_records_backorder_work_without_touching_the_broker(db) -> None:
    """With a broker configured, a stock change writes its follow-up work to the outbox and
    never calls the broker itself: a Redis outage cannot slow or fail the write."""
    site = wf.make_site()
    product = wf.make_product(sku="OUT-1", gtin="09501101530102")
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    try:
        with mock.patch.object(Celery, "send_task", side_effect=AssertionError("broker used")):
            receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=5)
    finally:
        current_app.conf.task_always_eager = eager
    message = OutboxMessage.objects.get()
    assert message.task == "shipping.tasks.reallocate_backorders_task"
    assert message.args == [site.warehouse.id, product.id]
    assert message.published_at is None


def test_broker_down_keeps_messages_then_publishes_them_in_order(db, redis_url) -> None:
    first = outbox.enqueue("tests.outbox_probe", "e", 5)
    second = outbox.enqueue("tests.outbox_probe", "f", 6)

    down = Celery("outbox-test-down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    result = outbox.publish_pending(app=down)
    assert (result.count, result.broker_down) == (0, True)
    first.refresh_from_db()
    assert first.published_at is None and first.attempts == 1 and first.last_error

    queue_name = f"dockside-test-outbox-{uuid.uuid4().hex}"
    up = Celery("outbox-test-up", broker=redis_url, set_as_current=False)
    up.conf.task_default_queue = queue_name
    result = outbox.publish_pending(app=up)
    assert (result.count, result.broker_down) == (2, False)
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
    assert outbox.publish_pending(app=up).count == 0  # nothing is sent twice

    # What reached Redis, in order, applied twice each (a redelivery): each effect once.
    with Connection(redis_url) as connection:
        queue = SimpleQueue(connection, queue_name)
        try:
            bodies = []
            for _ in range(2):
                delivered = queue.get(timeout=5)
                bodies.append((delivered.headers["task"], delivered.payload))
                delivered.ack()
        finally:
            queue.queue.delete()
            queue.close()
    assert [kwargs[outbox.OUTBOX_KWARG] for _, (_, kwargs, _) in bodies] == [first.id, second.id]
    for _ in range(2):
        for task_name, (args, kwargs, _embed) in bodies:
            current_app.tasks[task_name].apply(args=args, kwargs=kwargs)
    assert applied == [("e", 5), ("f", 6)]


def test_relay_command_publishes_once(db, redis_url) -> None:
    outbox.enqueue("tests.outbox_probe", "g", 7)
    queue_name = f"dockside-test-outbox-{uuid.uuid4().hex}"
    app = Celery("outbox-test-relay", broker=redis_url, set_as_current=False)
    app.conf.task_default_queue = queue_name
    try:
        with mock.patch("warehouse.outbox.current_app", app):
            call_command("relay_outbox", "--once")
        assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
    finally:
        with Connection(redis_url) as connection:
            SimpleQueue(connection, queue_name).queue.delete()


def test_purges_forget_only_what_is_old_enough(db, users) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from warehouse.models import IdempotencyRecord
    from warehouse.tasks import purge_idempotency_records_task, purge_outbox_task

    now = timezone.now()
    old = OutboxMessage.objects.create(task="tests.outbox_probe", published_at=now)
    fresh = OutboxMessage.objects.create(task="tests.outbox_probe", published_at=now)
    pending = OutboxMessage.objects.create(task="tests.outbox_probe")
    OutboxMessage.objects.filter(id__in=[old.id, pending.id]).update(
        created_at=now - timedelta(days=30)
    )
    OutboxMessage.objects.filter(id=old.id).update(published_at=now - timedelta(days=8))
    ProcessedMessage.objects.create(message_id=old.id, task="tests.outbox_probe")
    assert purge_outbox_task.apply().get() == 1
    assert set(OutboxMessage.objects.values_list("id", flat=True)) == {fresh.id, pending.id}
    assert not ProcessedMessage.objects.exists()

    user = users["dock"]
    kept = IdempotencyRecord.objects.create(user=user, key="kept", request_fingerprint="x")
    gone = IdempotencyRecord.objects.create(user=user, key="gone", request_fingerprint="x")
    IdempotencyRecord.objects.filter(id=kept.id).update(created_at=now - timedelta(hours=71))
    IdempotencyRecord.objects.filter(id=gone.id).update(created_at=now - timedelta(hours=73))
    assert purge_idempotency_records_task.apply().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["kept"]


def test_a_message_resent_with_its_outbox_id_is_accepted(db) -> None:
    """A retry re-sends the message's kwargs, outbox id included, through apply_async, whose
    argument check would refuse the extra keyword."""
    message = OutboxMessage.objects.create(task="tests.outbox_probe", args=["h", 8])
    for _resend in range(2):
        outbox_probe.apply_async(args=["h", 8], kwargs={outbox.OUTBOX_KWARG: message.id})
    assert applied == [("h", 8)]


def test_a_message_for_an_unknown_task_stays_pending(db) -> None:
    message = OutboxMessage.objects.create(task="tests.no_such_task", args=[], kwargs={})

    with pytest.raises(NotRegistered):
        outbox.apply_inline(message.id)

    message.refresh_from_db()
    assert message.published_at is None


def test_a_web_process_knows_every_task_before_its_first_request() -> None:
    # Threads of one web worker used to import the task modules lazily, on the first outbox
    # message, and could look a task up mid-import. A fresh process must know them all.
    script = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "print('\\n'.join(sorted(current_app.tasks)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    answer = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    registered = set(answer.stdout.split())
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    outbox_tasks = {
        "shipping.tasks.deliver_tracking_webhooks_task",
        "shipping.tasks.reallocate_backorders_task",
        "shipping.tasks.release_due_waves_task",
    }
    assert scheduled | outbox_tasks <= registered
