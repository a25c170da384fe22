import argparse
import datetime as dt
import os

from django.core.management.base import BaseCommand, CommandError

from shipping.kpis.compute import recompute_kpis
from warehouse.models import Warehouse


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD.") from error


class Command(BaseCommand):
    help = (
        "Recompute KPI snapshots and histograms for the local days --from .. --to (inclusive) "
        "of every warehouse, or of one. Safe to run again: each day's rows are replaced."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, type=_day)
        parser.add_argument("--to", dest="date_to", required=True, type=_day)
        parser.add_argument("--warehouse", help="Warehouse code, e.g. AMS1 (default: all).")
        parser.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="Connections recomputing chunks of the range side by side on PostgreSQL, "
            "one chunk each of 31 to 183 days (default: one per CPU).",
        )

    def handle(self, *args, **options) -> None:
        date_from, date_to = options["date_from"], options["date_to"]
        if date_from > date_to:
            raise CommandError(f"--from {date_from} is after --to {date_to}.")
        warehouse_ids = None
        if options["warehouse"]:
            warehouse = Warehouse.objects.filter(code=options["warehouse"]).first()
            if warehouse is None:
                raise CommandError(f"No warehouse {options['warehouse']}.")
            warehouse_ids = [warehouse.id]
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        result = recompute_kpis(
            date_from=date_from,
            date_to=date_to,
            warehouse_ids=warehouse_ids,
            jobs=options["jobs"],
        )
        self.stdout.write(
            f"KPIs of {result.warehouses} warehouse(s), {date_from} to {date_to}, "
            f"recomputed in {result.seconds:.2f} s:"
        )
        for metric, rows in result.rows.items():
            self.stdout.write(f"  {metric}: {rows} rows")
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.total_rows} snapshot rows, {result.total_histogram_rows} histogram "
                f"rows written; {result.deleted_rows} stale rows deleted."
            )
        )
