#!/usr/bin/env bash
# A long API fuzz: tests/test_api_fuzz.py with many examples, every role, a fresh seed, then a
# summary (requests, answers by status and role, operations no role got a 2xx from, failures).
#
#   bench/fuzz.sh                      # 50 examples per operation, role and mode; 100 sequences
#   DOCKSIDE_FUZZ_EXAMPLES=10 bench/fuzz.sh
#   DOCKSIDE_FUZZ_SEED=1234 bench/fuzz.sh   # replay a seed a summary printed
#
# The tests run in-process on PostgreSQL (pytest-django makes test_<name> on the server of
# DATABASE_URL, default the one `make test` uses). The full report is kept in var/.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOCKSIDE_FUZZ_EXAMPLES="${DOCKSIDE_FUZZ_EXAMPLES:-50}"
export DOCKSIDE_FUZZ_SEQUENCES="${DOCKSIDE_FUZZ_SEQUENCES:-100}"
export DOCKSIDE_FUZZ_STEPS="${DOCKSIDE_FUZZ_STEPS:-10}"
export DOCKSIDE_FUZZ_SEED="${DOCKSIDE_FUZZ_SEED:-$(date +%s)}"
export DOCKSIDE_FUZZ_REPORT="${DOCKSIDE_FUZZ_REPORT:-var/fuzz-report.json}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PY=.venv/bin/python

mkdir -p "$(dirname "$DOCKSIDE_FUZZ_REPORT")"
rm -f "$DOCKSIDE_FUZZ_REPORT"
echo "API fuzz: seed $DOCKSIDE_FUZZ_SEED, $DOCKSIDE_FUZZ_EXAMPLES examples per operation, role" \
  "and mode; $DOCKSIDE_FUZZ_SEQUENCES sequences of up to $DOCKSIDE_FUZZ_STEPS calls per role"
started=$(date +%s)
status=0
env -u REDIS_URL DATABASE_URL="$DATABASE_URL" \
  "$PY" -m pytest tests/test_api_fuzz.py -q -p no:cacheprovider --tb=line --show-capture=no || status=$?
echo "took $(( $(date +%s) - started )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$DOCKSIDE_FUZZ_REPORT" <<'EOF'
import json
import sys
from collections import Counter

with open(sys.argv[1]) as stream:
    report = json.load(stream)
for name, run in report.items():
    by_status, by_role, answered = Counter(), {}, set()
    for label, roles in run["statuses"].items():
        for role, counts in roles.items():
            for status, count in counts.items():
                by_status[status] += count
                role_counts = by_role.setdefault(role, Counter())
                role_counts["2xx" if status.startswith("2") else status] += count
                if status.startswith("2"):
                    answered.add(label)
    print(f"\n== {name}: {run['requests']} requests over {len(run['statuses'])} operations")
    print("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(by_status.items())))
    for role, counts in sorted(by_role.items()):
        total = sum(counts.values())
        print(f"  {role:<11} {total:>7} requests, {counts['2xx'] / total:6.1%} answered 2xx")
    never = sorted(set(run["statuses"]) - answered)
    print(f"operations no role got a 2xx from: {len(never)}")
    for label in never:
        print(f"  {label}")
    print(f"failures: {len(run['failures'])}")
    for key, text in sorted(run["failures"].items()):
        print(f"  {key}\n    " + text[:600].replace("\n", "\n    "))
EOF
exit "$status"
