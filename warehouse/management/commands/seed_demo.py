from importlib import import_module
from importlib.util import find_spec

from django.core.management.base import BaseCommand

from warehouse import demo

# Each app may add its own demo data in `<app>.demo.seed(warehouse=..., stdout=...)`.
APPS_WITH_DEMO_DATA = ("receiving", "shipping", "routing")


class Command(BaseCommand):
    help = "Load a realistic demo warehouse (idempotent: safe to run again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="Random seed for the demo data.")
        parser.add_argument(
            "--pickers",
            type=int,
            default=0,
            help="Also create this many picker logins: picker01, picker02, ...",
        )
        parser.add_argument(
            "--no-activity",
            action="store_true",
            help="Only the warehouse: layout, catalogue, opening stock and logins. No suppliers, "
            "customers, fleet, ASNs, orders or KPI history (a client such as bench/simulate "
            "then creates its own through the API).",
        )

    def handle(self, *args, **options) -> None:
        warehouse = demo.seed(self.stdout, seed=options["seed"], pickers=options["pickers"])
        if options["no_activity"]:
            self.stdout.write(self.style.SUCCESS(f"Demo logins (password {demo.DEMO_PASSWORD!r})."))
            return
        for app in APPS_WITH_DEMO_DATA:
            if find_spec(f"{app}.demo") is not None:
                import_module(f"{app}.demo").seed(warehouse=warehouse, stdout=self.stdout)
        # Past weeks of deliveries, picks and receipts (they need every app's demo data above),
        # and the KPIs computed from them, so the KPI dashboard has figures from the start.
        if find_spec("shipping.demo_history") is not None:
            import_module("shipping.demo_history").seed(warehouse=warehouse, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo logins (password {demo.DEMO_PASSWORD!r}): "
                "manager, dock, inspector, picker, dispatcher."
            )
        )
