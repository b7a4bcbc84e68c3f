"""Batch top-k recommendations from a train_mf.py model, for Bullpen's `transform` step.

    python3 recommend.py MODEL_PT INTERACTIONS_NDJSON OUT_NDJSON [--k 10]

Writes one NDJSON row per user: {"user_id", "items": [...], "scores": [...]},
leaving out items the user already has.
"""
import argparse
import json

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("interactions")
    p.add_argument("out")
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    ck = torch.load(a.model, map_location="cpu")
    sd = ck["state_dict"]
    user_ids, item_ids = ck["user_ids"], ck["item_ids"]
    uix = {u: n for n, u in enumerate(user_ids)}
    iix = {i: n for n, i in enumerate(item_ids)}
    scores = sd["user.weight"] @ sd["item.weight"].T + sd["item_bias.weight"].T
    with open(a.interactions) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            u, i = uix.get(r["user_id"]), iix.get(r["item_id"])
            if u is not None and i is not None:
                scores[u, i] = float("-inf")
    top = scores.topk(min(a.k, len(item_ids)), dim=1)
    with open(a.out, "w") as f:
        for u, user in enumerate(user_ids):
            items = [item_ids[j] for j in top.indices[u].tolist()]
            f.write(json.dumps({"user_id": user, "items": items, "scores": [round(s, 5) for s in top.values[u].tolist()]}) + "\n")
    print(f"wrote top-{a.k} for {len(user_ids)} users to {a.out}")


if __name__ == "__main__":
    main()
