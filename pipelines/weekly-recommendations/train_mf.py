"""Matrix factorization recommender (BPR loss) in PyTorch, for Bullpen's `train` step.

Input: --data, NDJSON rows {"user_id", "item_id", "weight", "split": "train"|"test"}
(one held-out "test" item per user). Without --data it makes its own clustered
synthetic data, so the script can be checked alone (e.g. on a GPU machine):

    python3 train_mf.py --device cuda --output-dir /tmp/mf

Writes model.pt (embeddings and id maps) and metrics.json to --output-dir, and
prints `@bullpen {...}` lines: progress per epoch, then the final metrics.
"""
import argparse
import json
import os
import sys
import time

import torch


def report(**msg):
    print("@bullpen " + json.dumps(msg), flush=True)


def synthetic(users, items, per_user, groups, seed):
    """Users and items fall into groups; users mostly interact within their group."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    per_group = items // groups
    for u in range(users):
        grp = u % groups
        picks = set()
        while len(picks) < per_user:
            if torch.rand(1, generator=g).item() < 0.8:
                i = grp + groups * int(torch.randint(0, per_group, (1,), generator=g))
            else:
                i = int(torch.randint(0, items, (1,), generator=g))
            picks.add(i)
        picks = list(picks)
        held_out = int(torch.randint(0, len(picks), (1,), generator=g))
        for n, i in enumerate(picks):
            rows.append({"user_id": u, "item_id": i, "weight": 1.0, "split": "test" if n == held_out else "train"})
    return rows


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class MF(torch.nn.Module):
    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.user = torch.nn.Embedding(n_users, dim)
        self.item = torch.nn.Embedding(n_items, dim)
        self.item_bias = torch.nn.Embedding(n_items, 1)
        torch.nn.init.normal_(self.user.weight, std=0.1)
        torch.nn.init.normal_(self.item.weight, std=0.1)
        torch.nn.init.zeros_(self.item_bias.weight)

    def score(self, u, i):
        return (self.user(u) * self.item(i)).sum(-1) + self.item_bias(i).squeeze(-1)

    def all_scores(self, u):
        return self.user(u) @ self.item.weight.T + self.item_bias.weight.T


def recall_at_k(model, train_u, train_i, test_u, test_i, n_items, k, device):
    """Share of users whose held-out item is in their top k (train items masked)."""
    model.eval()
    with torch.no_grad():
        scores = model.all_scores(test_u)
        seen = torch.zeros(len(test_u), n_items, dtype=torch.bool, device=device)
        row_of = torch.full((int(max(test_u.max(), train_u.max())) + 1,), -1, dtype=torch.long, device=device)
        row_of[test_u] = torch.arange(len(test_u), device=device)
        rows = row_of[train_u]
        keep = rows >= 0
        seen[rows[keep], train_i[keep]] = True
        scores = scores.masked_fill(seen, float("-inf"))
        top = scores.topk(min(k, n_items), dim=1).indices
        hits = (top == test_i.unsqueeze(1)).any(dim=1).float()
    model.train()
    return hits.mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="NDJSON training examples; default: synthetic")
    p.add_argument("--output-dir", default=os.environ.get("BULLPEN_OUTPUT_DIR", "out"))
    p.add_argument("--device", default=os.environ.get("BULLPEN_DEVICE", "cuda" if torch.cuda.is_available() else "cpu"))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--synthetic-users", type=int, default=2000)
    p.add_argument("--synthetic-items", type=int, default=400)
    p.add_argument("--fail-with", help="exit with this message and code 3 (for tests)")
    a = p.parse_args()
    if a.fail_with:
        print("loading data...", flush=True)
        print(a.fail_with, file=sys.stderr, flush=True)
        sys.exit(3)

    started = time.time()
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    rows = load(a.data) if a.data else synthetic(a.synthetic_users, a.synthetic_items, 20, 8, a.seed)
    if not rows:
        sys.exit("no training examples in " + str(a.data))
    user_ids = sorted({r["user_id"] for r in rows})
    item_ids = sorted({r["item_id"] for r in rows})
    uix = {u: n for n, u in enumerate(user_ids)}
    iix = {i: n for n, i in enumerate(item_ids)}
    tr = [r for r in rows if r.get("split", "train") == "train"]
    te = [r for r in rows if r.get("split") == "test"]
    t = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
    train_u, train_i = t([uix[r["user_id"]] for r in tr]), t([iix[r["item_id"]] for r in tr])
    test_u, test_i = t([uix[r["user_id"]] for r in te]), t([iix[r["item_id"]] for r in te])
    n_users, n_items = len(user_ids), len(item_ids)
    print(f"device {device} ({torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}), torch {torch.__version__}", flush=True)
    print(f"{n_users} users, {n_items} items, {len(tr)} train / {len(te)} test examples", flush=True)

    load_seconds = time.time() - started
    started = time.time()
    model = MF(n_users, n_items, a.dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss = torch.tensor(0.0)
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(len(train_u), device=device)
        total = 0.0
        for start in range(0, len(perm), a.batch_size):
            b = perm[start:start + a.batch_size]
            u, pos = train_u[b], train_i[b]
            neg = torch.randint(0, n_items, (len(b),), device=device)
            loss = -torch.nn.functional.logsigmoid(model.score(u, pos) - model.score(u, neg)).mean()
            loss = loss + 1e-4 * (model.user(u).pow(2).sum() + model.item(pos).pow(2).sum()) / len(b)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        report(progress=round(epoch / a.epochs, 3), epoch=epoch, loss=round(total / len(perm), 5))

    if device.type == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.time() - started
    recall = recall_at_k(model, train_u, train_i, test_u, test_i, n_items, a.k, device) if len(te) else 0.0
    metrics = {
        f"recall_at_{a.k}": round(recall, 5),
        "random_recall_at_k": round(min(a.k, n_items) / n_items, 5),
        "train_loss": round(total / len(perm), 5),
        "epochs": a.epochs,
        "users": n_users,
        "items": n_items,
        "load_seconds": round(load_seconds, 3),
        "train_seconds": round(train_seconds, 3),
    }
    os.makedirs(a.output_dir, exist_ok=True)
    torch.save(
        {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "user_ids": user_ids, "item_ids": item_ids, "dim": a.dim},
        os.path.join(a.output_dir, "model.pt"),
    )
    with open(os.path.join(a.output_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f)
    report(metrics=metrics)


if __name__ == "__main__":
    main()
