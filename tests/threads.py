"""Running jobs in parallel transactions: one thread and one database connection each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from django.db import connection


def run_together(jobs: Iterable[Callable[[], object]]) -> list[BaseException]:
    """Run each job in its own thread and connection, all released by one barrier; return the
    errors they raised (each thread closes its connection when done)."""
    jobs = list(jobs)
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
