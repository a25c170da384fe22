import json

from django.core.management.base import BaseCommand

from routing.solomon import solve_solomon_file


class Command(BaseCommand):
    help = "Solve a Solomon VRPTW instance file with Dockside's route solver and print the result."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--time-limit", type=float, default=10.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="Print JSON (the default form).")

    def handle(self, *args, **options) -> None:
        result = solve_solomon_file(
            options["file"], time_limit_s=options["time_limit"], seed=options["seed"]
        )
        self.stdout.write(json.dumps(result))
