"""The Celery app. Settings come from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Every task is outbox-aware: a message from the outbox carries its id, and a task skips an id
# it has already applied (see warehouse/outbox.py).
app = Celery("dockside", task_cls="warehouse.outbox:OutboxTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
