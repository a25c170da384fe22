"""Background work through the transactional outbox: record, publish, apply once.

- `enqueue(task_name, *args, **kwargs)` inserts an OutboxMessage in the caller's transaction:
  the work exists exactly when the change that caused it commits, and no request ever talks
  to the broker (a Redis outage cannot slow or fail an API write).
- `publish_pending()` hands pending messages to the broker in id order; the relay process
  (`manage.py relay_outbox`) calls it in a loop. Several relays may run: rows are claimed with
  SKIP LOCKED. A message can be published twice (a relay killed between publishing and
  marking), so:
- `OutboxTask` (the base of every task sent this way) skips a message id it has already
  applied, recorded in ProcessedMessage with the task's own effects.
Without a broker (the embedded default and the tests run tasks inline), a message is applied
right after the commit instead of waiting for a relay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task, current_app
from django.db import connection, transaction
from django.utils import timezone

from warehouse.models import OutboxMessage, ProcessedMessage

logger = logging.getLogger(__name__)

OUTBOX_KWARG = "_outbox_id"


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> OutboxMessage:
    """Run the Celery task `task_name` with these JSON-able arguments after this transaction
    commits (nothing happens if it rolls back)."""
    message = OutboxMessage.objects.create(task=task_name, args=list(args), kwargs=kwargs)
    if current_app.conf.task_always_eager:
        transaction.on_commit(lambda: apply_inline(message.id), robust=True)
    return message


def apply_inline(message_id: int) -> None:
    """No broker: mark the message handed over and run its task in this process."""
    message = OutboxMessage.objects.get(id=message_id)
    # Look the task up before marking: an unknown name leaves the message pending for a relay.
    task = current_app.tasks[message.task]
    OutboxMessage.objects.filter(id=message_id).update(published_at=timezone.now())
    task.apply(args=message.args, kwargs={**message.kwargs, OUTBOX_KWARG: message.id}, throw=True)


@dataclass(frozen=True)
class Published:
    count: int
    broker_down: bool


def publish_pending(*, limit: int = 200, app: Celery | None = None) -> Published:
    """Publish up to `limit` pending messages in id order (through `app`, default the
    project's Celery app).

    Stops at the first broker error (the broker is down: the rest would fail the same way),
    recording it on that message; what was not published stays pending for the next call.
    """
    app = app or current_app
    published: list[int] = []
    broker_down = False
    with transaction.atomic():
        batch = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True)
            .order_by("id")[:limit]
        )
        for message in batch:
            try:
                app.send_task(
                    message.task,
                    args=message.args,
                    kwargs={**message.kwargs, OUTBOX_KWARG: message.id},
                    retry=False,
                )
            except Exception as error:  # kombu/redis raise many kinds; all mean "not sent"
                OutboxMessage.objects.filter(id=message.id).update(
                    attempts=message.attempts + 1, last_error=str(error)[:300]
                )
                logger.warning("Outbox: broker refused message %s: %s", message.id, error)
                broker_down = True
                break
            published.append(message.id)
        if published:
            OutboxMessage.objects.filter(id__in=published).update(published_at=timezone.now())
    return Published(count=len(published), broker_down=broker_down)


def purge_published(*, older_than_days: int = 7) -> int:
    """Delete published messages (and their processed marks) older than the given age."""
    cutoff = timezone.now() - timezone.timedelta(days=older_than_days)
    old = OutboxMessage.objects.filter(published_at__lt=cutoff)
    ProcessedMessage.objects.filter(message_id__in=old.values("id")).delete()
    deleted, _ = old.delete()
    return deleted


def _claim(message_id: int, task_name: str) -> bool:
    """Record that this message is applied; False when it already was."""
    table = ProcessedMessage._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (message_id, task, processed_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (message_id) DO NOTHING",
            [message_id, task_name, now],
        )
        return cursor.rowcount == 1


class OutboxTask(Task):
    """A task that applies each outbox message once.

    With `outbox_atomic` (the default) the task body runs in one transaction with the
    processed mark, so its database effects happen exactly once. Tasks that manage their own
    transactions (long solves, retried allocations) set it False: they must be idempotent, a
    message already marked is skipped, and the mark is written when the body succeeds.
    """

    abstract = True
    outbox_atomic = True
    # Messages carry the outbox id as an extra keyword (removed in __call__); a retry
    # re-sends the message's kwargs, which Celery's argument check would refuse.
    typing = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        message_id = kwargs.pop(OUTBOX_KWARG, None)
        if message_id is None:
            return super().__call__(*args, **kwargs)
        if self.outbox_atomic:
            with transaction.atomic():
                if not _claim(message_id, self.name):
                    logger.info("Outbox: message %s already applied by %s", message_id, self.name)
                    return None
                return super().__call__(*args, **kwargs)
        if ProcessedMessage.objects.filter(message_id=message_id).exists():
            logger.info("Outbox: message %s already applied by %s", message_id, self.name)
            return None
        result = super().__call__(*args, **kwargs)
        _claim(message_id, self.name)
        return result
