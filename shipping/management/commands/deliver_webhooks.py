from django.core.management.base import BaseCommand

from shipping.services import webhooks


class Command(BaseCommand):
    help = (
        "Send every webhook delivery whose next attempt is due, now, in this process: what the "
        "beat task does every 30 seconds. For the embedded default (no broker, no beat) and "
        "for operators who just fixed a receiver."
    )

    def handle(self, *args, **options) -> None:
        acknowledged = 0
        queues = webhooks.due_queues()
        for subscription_id, order_id in queues:
            acknowledged += webhooks.deliver_queue(
                subscription_id=subscription_id, order_id=order_id
            )
        self.stdout.write(f"{len(queues)} queue(s) due, {acknowledged} delivery(ies) acknowledged.")
