"""Cleans extracted interactions, for Bullpen's `transform` step (standard library only).

    python3 prepare.py EVENTS_NDJSON OUT_NDJSON [--min-events 3]

Weights events (view 1, click 2, purchase 4), keeps the strongest event per
(user, item) with its latest time, and drops users with fewer than
--min-events distinct items.
"""
import argparse
import json
from collections import defaultdict

WEIGHTS = {"view": 1.0, "click": 2.0, "purchase": 4.0}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("events")
    p.add_argument("out")
    p.add_argument("--min-events", type=int, default=3)
    a = p.parse_args()
    best = {}
    per_user = defaultdict(int)
    seen = skipped = 0
    with open(a.events) as f:
        for line in f:
            if not line.strip():
                continue
            seen += 1
            r = json.loads(line)
            w = WEIGHTS.get(r.get("event"))
            if w is None:
                skipped += 1
                continue
            key = (r["user_id"], r["item_id"])
            old = best.get(key)
            if old is None:
                per_user[r["user_id"]] += 1
                best[key] = (w, r["ts"])
            else:
                best[key] = (max(old[0], w), max(old[1], r["ts"]))
    kept = 0
    with open(a.out, "w") as f:
        for (u, i), (w, ts) in best.items():
            if per_user[u] >= a.min_events:
                f.write(json.dumps({"user_id": u, "item_id": i, "weight": w, "ts": ts}) + "\n")
                kept += 1
    print(f"{seen} events ({skipped} of unknown type) -> {kept} user-item rows")


if __name__ == "__main__":
    main()
