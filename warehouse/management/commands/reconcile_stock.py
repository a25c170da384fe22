from django.core.management.base import BaseCommand, CommandError

from warehouse.selectors import list_ledger_mismatches


class Command(BaseCommand):
    help = "Recompute every stock balance from the ledger; exit non-zero on any mismatch."

    def handle(self, *args, **options) -> None:
        mismatches = list_ledger_mismatches()
        for m in mismatches:
            self.stderr.write(
                f"location={m.location_id} product={m.product_id} lot={m.lot_id} "
                f"status={m.status}: balance {m.balance} != ledger {m.ledger}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} balance(s) disagree with the ledger.")
        self.stdout.write(self.style.SUCCESS("Stock reconciles: every balance equals its ledger."))
