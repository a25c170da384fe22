"""Publish outbox messages to the Celery broker as they are committed, until stopped."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from warehouse.outbox import publish_pending


class Command(BaseCommand):
    help = (
        "Relay the transactional outbox to the Celery broker: publish committed messages in "
        "order, wait out broker outages (messages stay in the database), stop on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval", type=float, default=0.5, help="Seconds between polls when idle."
        )
        parser.add_argument(
            "--max-backoff", type=float, default=10.0, help="Longest wait while the broker is down."
        )
        parser.add_argument(
            "--once", action="store_true", help="Publish what is pending, then exit."
        )

    def handle(self, *args, interval: float, max_backoff: float, once: bool, **options) -> None:
        if once:
            result = publish_pending()
            down = " (the broker is down; the rest wait)" if result.broker_down else ""
            self.stdout.write(f"Published {result.count} message(s){down}.")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        wait = interval
        self.stdout.write("Outbox relay started.")
        while not stop.is_set():
            close_old_connections()
            try:
                result = publish_pending()
            except Exception as error:  # the database is down: keep the relay alive, back off
                self.stderr.write(f"Outbox relay: {error}")
                wait = min(max(interval, wait * 2), max_backoff)
                stop.wait(wait)
                continue
            if result.broker_down:
                wait = min(max(interval, wait * 2), max_backoff)
            elif result.count:
                wait = interval
                continue  # a full batch may mean more are waiting
            else:
                wait = interval
            stop.wait(wait)
        self.stdout.write("Outbox relay stopped.")
