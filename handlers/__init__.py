"""Telegram handlers: translate updates into calls of the Telegram-free core in `bot`."""

import os

# Durations (retry_after, live_period, ...) as timedelta: PTB 22's announced future behaviour, and
# without it every read of such a field warns. Set before anything reads them.
os.environ.setdefault("PTB_TIMEDELTA", "1")
