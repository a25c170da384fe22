from celery import shared_task

from routing import services
from routing.services.solving import SolveInProgress


# A solve takes its own transactions and is idempotent by (plan, attempt): outbox mark after.
@shared_task(
    bind=True,
    outbox_atomic=False,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=10,
)
def plan_routes_task(self, plan_id: int, attempt: int) -> None:
    """Solve one attempt of a route plan; a duplicate or redelivered run does nothing.

    A run that finds the attempt held by another (perhaps killed) worker comes back when that
    one must have finished, and takes over if it has not: a killed worker delays a plan by
    its time limit plus the stale margin, never loses it. The wait is far below the broker's
    visibility timeout (time limits are capped at 10 minutes).
    """
    try:
        services.solve_route_plan(plan_id=plan_id, attempt=attempt)
    except SolveInProgress as busy:
        raise self.retry(countdown=busy.retry_in.total_seconds()) from busy


@shared_task(acks_late=True, reject_on_worker_lost=True)
def plan_tomorrows_routes_task() -> None:
    """Beat: at each warehouse's cut-off, create and solve tomorrow's plan (once per day)."""
    services.plan_due_warehouses()
