"""Bench-only changes to ``python -m bot run --config FILE`` that no setting of the bot can express.

bench/_harness.py starts the bot exactly as an operator does, with this folder first on its
PYTHONPATH, so Python imports this module at start-up (``site`` imports ``sitecustomize``). Without
``LEOPARD_BENCH_VARIANT`` in the environment it does nothing. With it (JSON), it wraps
``handlers.app.build_application``, which the CLI calls once, to change the application it builds:

- ``rate_limiter``: ``"off"`` takes the bot's rate limiter away (the e2e headline figures: the bot
  and the echo ceiling both run without one), ``"aio"`` puts PTB's AIORateLimiter in its place
  (bench_pacing's "before": the bot's limiter before its per-chat pacing), ``"bot"`` keeps its own;
- ``private_burst``: the private-chat burst of the bot's pacing (a setting gives only the rate);
- ``profile``: a pyinstrument profile of the running bot into this .txt (+ .html, .pyisession).

And with ``BENCH_TRACEMALLOC`` set, every SIGUSR1 writes a tracemalloc snapshot next to the database.
Any failure here stops the process: a benchmark must never measure a bot it did not mean to.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any


def _install(spec: dict[str, Any]) -> None:
    import asyncio
    import atexit
    import dataclasses
    import signal
    from pathlib import Path

    import handlers.app

    build = handlers.app.build_application

    def build_application(config: Any) -> Any:
        if spec.get("private_burst"):
            config = dataclasses.replace(
                config, pacing=dataclasses.replace(config.pace, private_burst=int(spec["private_burst"]))
            )
        application = build(config)
        limiter = spec.get("rate_limiter", "bot")
        if limiter == "off":
            application.bot._rate_limiter = None
        elif limiter == "aio":
            from telegram.ext import AIORateLimiter

            # The bot's limiter before pacing per chat: evenly spaced overall, PTB's group bucket, and
            # any 429 holding every request of the bot.
            application.bot._rate_limiter = AIORateLimiter(
                overall_max_rate=1, overall_time_period=1 / 28, max_retries=2
            )
        elif limiter != "bot":
            raise ValueError(f"unknown rate_limiter {limiter!r}")
        loop = asyncio.get_running_loop()
        if os.environ.get("BENCH_TRACEMALLOC"):
            import tracemalloc

            tracemalloc.start(12)
            shots = iter(range(1, 100))

            def snapshot() -> None:
                path = Path(config.database_path).with_name(f"tracemalloc-{next(shots)}.snap")
                tracemalloc.take_snapshot().dump(str(path))

            loop.add_signal_handler(signal.SIGUSR1, snapshot)
        if spec.get("profile"):
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005, async_mode="disabled")
            profiler.start()

            def write_profile() -> None:
                profiler.stop()
                path = Path(spec["profile"])
                path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
                path.with_suffix(".html").write_text(profiler.output_html())
                if profiler.last_session is not None:
                    profiler.last_session.save(str(path.with_suffix(".pyisession")))

            atexit.register(write_profile)
        return application

    handlers.app.build_application = build_application


_SPEC = os.environ.get("LEOPARD_BENCH_VARIANT")
if _SPEC:
    try:
        _install(json.loads(_SPEC))
    except BaseException:
        traceback.print_exc()
        print("bench/variant: could not apply LEOPARD_BENCH_VARIANT; stopping", file=sys.stderr, flush=True)
        os._exit(70)
