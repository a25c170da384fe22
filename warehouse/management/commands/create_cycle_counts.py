import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from warehouse.counts.rules import create_daily_counts
from warehouse.models import Warehouse


class Command(BaseCommand):
    help = (
        "Create the counting rule's cycle counts for a day (default: each warehouse's local "
        "today). Idempotent: a second run for the same day creates nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", help="The local day, YYYY-MM-DD.")
        parser.add_argument("--warehouse", help="Only this warehouse (its code).")

    def handle(self, *args, **options) -> None:
        day = None
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as error:
                raise CommandError(
                    f"--date must be YYYY-MM-DD, not {options['date']!r}."
                ) from error
        warehouse_ids = None
        if options["warehouse"]:
            warehouse_ids = list(
                Warehouse.objects.filter(code=options["warehouse"]).values_list("id", flat=True)
            )
            if not warehouse_ids:
                raise CommandError(f"No warehouse {options['warehouse']!r}.")
        created = create_daily_counts(day=day, warehouse_ids=warehouse_ids)
        self.stdout.write(self.style.SUCCESS(f"Created {created} cycle count(s)."))
