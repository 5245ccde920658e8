"""What the durable inbox adds to each update: a script, not a test.

``python bench/bench_inbox.py [--updates 3000]`` times, on a real SQLite file (WAL) through the
bot's Store, the two writes the inbox adds to an update: storing the batch it came in (encrypted, fsynced,
one commit per getUpdates batch or webhook call) and marking it done (not fsynced). Batches of 1
(a webhook, or a quiet bot polling) and of 10 and 100 (a busy one). It prints, per batch size, the
delay storing adds to each update (p50/p99 of the batch's commit, which every update in it waits
for), the done mark's time, and the database time per update (updates/s the inbox alone could
take). bench/bench_e2e.py measures the whole bot.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from bot.store import Store  # noqa: E402
from handlers.inbox import inbox_key  # noqa: E402


def update_json(update_id: int) -> str:
    """A typical private text update (~400 bytes, as Telegram sends it)."""
    return json.dumps({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1765000000,
            "from": {
                "id": 100000 + update_id % 40, "is_bot": False, "first_name": "Person",
                "language_code": "zh-hans",
            },
            "chat": {"id": 100000 + update_id % 40, "type": "private", "first_name": "Person"},
            "text": "在云龙山下看到一只豹子，往北边走了",
        },
    }, ensure_ascii=False)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-inbox-") as directory:
        store = await Store.open(Path(directory) / "bench.sqlite3")
        fernet = Fernet(base64.urlsafe_b64encode(inbox_key("bench-secret-0123456789", Path(directory) / "x")))
        next_id = 1
        try:
            print(f"durable inbox, {args.updates} updates per batch size, SQLite {Path(directory)} (WAL)")
            for batch in (1, 10, 100):
                stored: list[float] = []  # a batch's commit: every update in it waits for it
                done: list[float] = []
                for _ in range(max(1, args.updates // batch)):
                    texts = [(i, update_json(i)) for i in range(next_id, next_id + batch)]
                    next_id += batch
                    began = time.perf_counter()
                    updates = [(i, fernet.encrypt(text.encode()).decode()) for i, text in texts]  # as the bot
                    await store.inbox_receive(updates, time.time())
                    stored.append(time.perf_counter() - began)
                    for update_id, _ in updates:
                        began = time.perf_counter()
                        await store.inbox_done(update_id, time.time())
                        done.append(time.perf_counter() - began)
                cost = statistics.mean(stored) / batch + statistics.mean(done)
                print(
                    f"  batch {batch:>3}: storing delays each update p50 {pct(stored, 0.5) * 1e3:.2f} ms, "
                    f"p99 {pct(stored, 0.99) * 1e3:.2f} ms; the done mark (after the reply, before the "
                    f"person's next update) p50 {pct(done, 0.5) * 1e3:.2f} ms, "
                    f"p99 {pct(done, 0.99) * 1e3:.2f} ms; database time {cost * 1e3:.3f} ms per update "
                    f"= {1 / cost:,.0f} updates/s for the inbox alone"
                )
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=3000)
    asyncio.run(main(parser.parse_args()))
