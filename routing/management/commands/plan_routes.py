import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from routing import services
from routing.models import RoutePlan
from warehouse.errors import DomainError
from warehouse.models import Warehouse


class Command(BaseCommand):
    help = "Plan the delivery routes of a warehouse for a day, solving in this process."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--warehouse", required=True, help="Warehouse code, e.g. AMS1.")
        parser.add_argument("--date", required=True, type=dt.date.fromisoformat)
        parser.add_argument("--time-limit", type=int, default=30, help="Seconds of search.")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options) -> None:
        warehouse = Warehouse.objects.filter(code=options["warehouse"]).first()
        if warehouse is None:
            raise CommandError(f"No warehouse {options['warehouse']}.")
        try:
            plan = services.create_route_plan(
                warehouse_id=warehouse.id,
                delivery_date=options["date"],
                time_limit_seconds=options["time_limit"],
                seed=options["seed"],
            )
            plan = services.request_solve(plan_id=plan.id)
        except DomainError as error:
            raise CommandError(error.message) from error
        services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
        plan = RoutePlan.objects.get(id=plan.id)
        if plan.status != RoutePlan.Status.SOLVED:
            raise CommandError(f"Plan {plan.id} is {plan.status}: {plan.error}")
        self.stdout.write(
            f"Plan {plan.id}: {plan.vehicles_used} vehicles, {plan.total_distance_km} km, "
            f"{plan.dropped_stops} unplanned stop(s), solved in {plan.solve_seconds} s."
        )
        for stop in plan.stops.filter(route__isnull=True).select_related("customer"):
            self.stdout.write(f"  unplanned: {stop.customer.name}: {stop.dropped_reason}")
