"""`python -m bench.simulate`: play a day in the warehouse through the public API.

Without --url it starts Dockside itself (a fresh PostgreSQL database, the demo warehouse from
`seed_demo --no-activity`, gunicorn, a Celery worker, beat and the outbox relay) and stops it
afterwards. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulate.client import ServerError, Tally  # noqa: E402
from bench.simulate.day import Day  # noqa: E402
from bench.simulate.phases import PHASES  # noqa: E402
from bench.simulate.phases.setup import PICKERS  # noqa: E402
from bench.simulate.report import as_json, check_invariants, render  # noqa: E402
from bench.simulate.service import ServiceOptions, reconcile, running_service  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="Same seed, same day, same figures.")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = 40 trucks, 3,000 orders, 20 pickers."
    )
    parser.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        default=None,
        help="The day played (deliveries the day after). Default: today in the warehouse.",
    )
    parser.add_argument("--url", default="", help="A running Dockside; default: start one.")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="dockside_simulation")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    parser.add_argument("--port", type=int, default=0, help="Default: a free port.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="Keep the service it started running after the day (Ctrl-C stops it): "
        "look around in the admin, or take screenshots (python -m bench.simulate.screenshots).",
    )
    return parser.parse_args(argv)


def play(args: argparse.Namespace, base_url: str) -> Day:
    day = Day(
        base_url=base_url,
        seed=args.seed,
        scale=args.scale,
        date=args.date or dt.date.today(),
        tally=Tally(),
    )
    for name, phase in PHASES:
        started = time.perf_counter()
        phase(day)
        if name == "setup" and args.date is None:
            day.date = day.now_local_day()
        day.phase_seconds[name] = round(time.perf_counter() - started, 1)
        print(
            f"  {name}: {day.phase_seconds[name]:.1f} s, {day.tally.requests} requests",
            flush=True,
        )
    check_invariants(day)
    return day


def serve_until_stopped() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = ServiceOptions(
        postgres=args.postgres,
        database=args.database,
        redis_url=args.redis_url,
        port=args.port,
        pickers=PICKERS,
    )
    print(f"Simulating a day: seed {args.seed}, scale {args.scale}", flush=True)
    reconciled: bool | None = None
    output = ""
    try:
        if args.url:
            day = play(args, args.url)
        else:
            with running_service(options) as base_url:
                day = play(args, base_url)
                reconciled, output = reconcile(options)
                if args.serve:
                    print(render(day, reconciled=reconciled, reconcile_output=output))
                    print(f"\nServing {base_url} (manager / dockside-demo); Ctrl-C stops it.")
                    serve_until_stopped()
    except ServerError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 2
    if not args.serve:  # with --serve it was printed before serving
        print()
        print(render(day, reconciled=reconciled, reconcile_output=output))
    if args.json:
        args.json.write_text(as_json(day, reconciled=reconciled))
    return 0 if '"passed": true' in as_json(day, reconciled=reconciled) else 1


if __name__ == "__main__":
    sys.exit(main())
