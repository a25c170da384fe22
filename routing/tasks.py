from celery import shared_task

from routing import services
from warehouse.outbox import OutboxTask


# A solve takes its own transactions and is idempotent by (plan, attempt): outbox mark after.
@shared_task(
    base=OutboxTask,
    outbox_atomic=False,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
)
def plan_routes_task(plan_id: int, attempt: int) -> None:
    """Solve one attempt of a route plan; a duplicate or redelivered run does nothing."""
    services.solve_route_plan(plan_id=plan_id, attempt=attempt)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def plan_tomorrows_routes_task() -> None:
    """Beat: at each warehouse's cut-off, create and solve tomorrow's plan (once per day)."""
    services.plan_due_warehouses()
